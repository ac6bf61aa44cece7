from django.urls import path

from apps.dev_issuer import views

app_name = "dev_issuer"
urlpatterns = [
    path("<str:tenant>/oauth2/v2.0/authorize", views.authorize, name="authorize"),
    path("<str:tenant>/oauth2/v2.0/token", views.token, name="token"),
    path("<str:tenant>/oauth2/v2.0/logout", views.logout, name="logout"),
    path("<path:path>", views.document, name="document"),
]
