"""Data, model and environment documents (Azure ML `data`, `model` and `environment` YAML)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from forgeml.core.specs.base import NAME_PATTERN, Resource, SpecModel


def _check_name(value: str | None) -> str | None:
    if value is not None and not NAME_PATTERN.match(value):
        raise ValueError(
            f"the name '{value}' is not allowed: use letters, digits, '-', '_' or '.', starting "
            "with a letter or digit, at most 255 characters."
        )
    return value


def _check_version(value: str | None) -> str | None:
    if value is not None and not NAME_PATTERN.match(value):
        raise ValueError(
            f"the version '{value}' is not allowed: use letters, digits, '-', '_' or '.'."
        )
    return value


class VersionedAsset(Resource):
    """An immutable, versioned asset. `version` omitted means: the next number."""

    version: str | None = None
    properties: dict[str, str] = Field(default_factory=dict)

    @field_validator("name")
    @classmethod
    def _valid_name(cls, value: str | None) -> str | None:
        return _check_name(value)

    @field_validator("version", mode="before")
    @classmethod
    def _valid_version(cls, value: Any) -> str | None:
        return _check_version(None if value is None else str(value))


class Data(VersionedAsset):
    """A data asset: a file, a folder or an MLTable folder."""

    type: Literal["uri_file", "uri_folder", "mltable"] = "uri_folder"
    path: str


class Model(VersionedAsset):
    """A model asset; `mlflow_model` folders hold an `MLmodel` file and deploy with no code."""

    type: Literal["custom_model", "mlflow_model", "triton_model"] = "custom_model"
    path: str
    flavors: dict[str, Any] | None = None
    stage: str | None = None
    job_name: str | None = None


class BuildContext(SpecModel):
    path: str
    dockerfile_path: str = "Dockerfile"


class Route(SpecModel):
    port: int
    path: str


class InferenceConfig(SpecModel):
    liveness_route: Route | None = None
    readiness_route: Route | None = None
    scoring_route: Route | None = None


class Environment(VersionedAsset):
    """Where code runs: a base image, a conda/pip specification, or a build context.

    Without a container runtime, forgeml realises the Python part (the conda file's `pip`
    section and python version, or a `requirements.txt` in the build context) as a virtualenv.
    """

    image: str | None = None
    conda_file: str | dict[str, Any] | None = None
    build: BuildContext | None = None
    os_type: Literal["linux", "windows"] = "linux"
    inference_config: InferenceConfig | None = None

    @model_validator(mode="after")
    def _one_source(self) -> Environment:
        if not self.image and not self.build:
            raise ValueError(
                "an environment needs 'image' or 'build' (or both); add 'image: python:3.11' "
                "if you only want a conda/pip specification."
            )
        if self.conda_file is not None and not self.image:
            raise ValueError("'conda_file' is applied on top of 'image'; add an 'image'.")
        return self

    @model_validator(mode="before")
    @classmethod
    def _not_bare_conda(cls, data: Any) -> Any:
        if isinstance(data, dict) and ({"channels", "dependencies"} & data.keys()):
            raise ValueError(
                "this looks like a conda file, not an environment; write an environment YAML "
                "with 'image:' and 'conda_file: ./conda.yml' that points at it."
            )
        return data


def pip_requirements(env: Environment, build_requirements: list[str] | None = None) -> list[str]:
    """The pip requirement lines an environment asks for (conda `pip:` section, else build)."""
    reqs: list[str] = []
    conda = env.conda_file if isinstance(env.conda_file, dict) else None
    if conda:
        for dep in conda.get("dependencies") or []:
            if isinstance(dep, dict) and isinstance(dep.get("pip"), list):
                reqs.extend(str(x) for x in dep["pip"])
    if build_requirements:
        reqs.extend(build_requirements)
    return reqs


def conda_python_version(env: Environment) -> str | None:
    conda = env.conda_file if isinstance(env.conda_file, dict) else None
    for dep in (conda or {}).get("dependencies") or []:
        if isinstance(dep, str) and dep.replace(" ", "").startswith("python"):
            rest = dep.replace(" ", "")[len("python") :].lstrip("=<>~!")
            return rest or None
    return None
