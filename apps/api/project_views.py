"""The sample domain API: plain DRF, guarded by the token's mapped Django permissions."""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from rest_framework import serializers, viewsets

from apps.api.permissions import MappedModelPermissions
from apps.api.serializers import ProjectSerializer
from apps.projects.models import Project


class ProjectViewSet(viewsets.ModelViewSet):
    """``/api/projects/``: view/add/change/delete_project, as the caller's rules grant."""

    serializer_class = ProjectSerializer
    permission_classes = [MappedModelPermissions]

    def get_queryset(self) -> QuerySet[Project]:
        return Project.objects.select_related("created_by")

    def perform_create(self, serializer: ProjectSerializer) -> None:
        self._save(serializer, created_by=self.request.user)

    def perform_update(self, serializer: ProjectSerializer) -> None:
        self._save(serializer)

    @staticmethod
    def _save(serializer: ProjectSerializer, **extra: object) -> None:
        try:
            with transaction.atomic():
                serializer.save(**extra)
        except IntegrityError as exc:  # the serializer checked the name; a concurrent write won
            raise serializers.ValidationError(
                {"name": ["A project with this name already exists."]}
            ) from exc
