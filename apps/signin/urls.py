from django.urls import path

from apps.signin import views

app_name = "signin"
urlpatterns = [
    path("token/", views.paste_token, name="paste-token"),
    path("entra/", views.entra_start, name="start"),
    path("entra/callback", views.entra_callback, name="callback"),
    path("logout/", views.sign_out, name="logout"),
]
