from django.urls import path

from apps.dev_issuer import views

app_name = "dev_issuer"
urlpatterns = [path("<path:path>", views.document, name="document")]
