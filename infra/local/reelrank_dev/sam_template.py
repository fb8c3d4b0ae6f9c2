"""Reading template.yaml the way ``sam local`` does, without SAM CLI or Docker (dev tooling; never in the layer).

:func:`load_template` parses the template with a YAML loader that understands CloudFormation's short tags (``!Ref``,
``!Sub``, ``!GetAtt``, ``!If``, …) and turns each into its long form (``{"Ref": ...}``, ``{"Fn::Sub": ...}``), so the
result is the same dict the JSON form of the template would give. :func:`function_spec` resolves one
``AWS::Serverless::Function`` into what a local runtime needs: its code folder, handler, environment, timeout and
memory, with ``Globals.Function`` merged in.

Environment values follow ``sam local invoke --env-vars``: a variable set in the calling shell wins over the
template; a ``!Ref`` to a template parameter resolves to the parameter's ``Default``; any other intrinsic function
(``!GetAtt``, ``!Sub``, a ``!Ref`` to a resource or to a parameter without a default) cannot be known locally, so the
variable is left out unless the shell sets it (the names are kept in ``FunctionSpec.unresolved_environment``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

SERVERLESS_FUNCTION = "AWS::Serverless::Function"
# Lambda's own defaults when neither the function nor Globals sets them
DEFAULT_TIMEOUT_SECONDS = 3
DEFAULT_MEMORY_MB = 128


class TemplateError(Exception):
    """The template cannot be read, or does not describe the function asked for in a way that runs locally."""


class UnknownFunctionError(TemplateError):
    """No ``AWS::Serverless::Function`` with the requested logical id."""

    def __init__(self, logical_id: str, known: list[str]) -> None:
        self.logical_id = logical_id
        self.known = known
        listed = ", ".join(known) if known else "none"
        super().__init__(f"no AWS::Serverless::Function {logical_id!r} in the template (functions: {listed})")


class _CloudFormationLoader(yaml.SafeLoader):
    """A safe loader that also accepts CloudFormation's short-form intrinsic tags."""


def _construct_intrinsic(loader: yaml.SafeLoader, tag_suffix: str, node: yaml.Node) -> dict[str, Any]:
    value: Any
    if isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    elif isinstance(node, yaml.MappingNode):
        value = loader.construct_mapping(node, deep=True)
    else:
        value = loader.construct_scalar(node)
    if tag_suffix in ("Ref", "Condition"):
        return {tag_suffix: value}
    # `!GetAtt Resource.Attribute` is the short form of {"Fn::GetAtt": ["Resource", "Attribute"]}
    if tag_suffix == "GetAtt" and isinstance(value, str):
        resource, _, attribute = value.partition(".")
        value = [resource, attribute]
    return {f"Fn::{tag_suffix}": value}


_CloudFormationLoader.add_multi_constructor("!", _construct_intrinsic)


def load_template(path: Path | str) -> dict[str, Any]:
    """Parse a SAM/CloudFormation template (YAML or JSON) into a dict, short tags in their long form.

    Parameters
    ----------
    path : Path | str
        The template file.

    Returns
    -------
    dict[str, Any]
        The template, with ``!Ref X`` as ``{"Ref": "X"}``, ``!Sub s`` as ``{"Fn::Sub": "s"}`` and so on.

    Raises
    ------
    TemplateError
        The file is missing, is not YAML, or is not a mapping.
    """
    path = Path(path)
    try:
        document = yaml.load(path.read_text(encoding="utf-8"), Loader=_CloudFormationLoader)
    except OSError as exc:
        raise TemplateError(f"cannot read template {path}: {exc}") from exc
    except yaml.YAMLError as exc:
        raise TemplateError(f"template {path} is not valid YAML: {exc}") from exc
    if not isinstance(document, dict):
        raise TemplateError(f"template {path} is not a mapping of sections")
    return document


@dataclass(frozen=True)
class FunctionSpec:
    """One function of the template, as a local runtime runs it.

    ``code_uri`` is absolute (resolved against the template's folder when ``template_dir`` is given). ``environment``
    holds only the variables the template declares, already resolved (shell first, then template).
    """

    logical_id: str
    code_uri: Path
    handler: str
    environment: dict[str, str]
    timeout: int
    memory: int
    events: dict[str, Any] = field(default_factory=dict)
    runtime: str | None = None
    unresolved_environment: tuple[str, ...] = ()

    @property
    def handler_module(self) -> str:
        """``app`` for ``app.lambda_handler`` (``pkg.mod`` for ``pkg.mod.handler``)."""
        return self.handler.rpartition(".")[0]

    @property
    def handler_function(self) -> str:
        """``lambda_handler`` for ``app.lambda_handler``."""
        return self.handler.rpartition(".")[2]

    @property
    def handler_path(self) -> Path:
        """The file the handler module is loaded from: ``<code_uri>/app.py`` for ``app.lambda_handler``."""
        return self.code_uri.joinpath(*self.handler_module.split(".")).with_suffix(".py")


def function_ids(template: Mapping[str, Any]) -> list[str]:
    """Logical ids of every ``AWS::Serverless::Function`` in ``template``, in template order."""
    resources = template.get("Resources") or {}
    return [rid for rid, res in resources.items() if isinstance(res, dict) and res.get("Type") == SERVERLESS_FUNCTION]


def _scalar_env_value(value: Any) -> str | None:
    """The string Lambda would see for a literal template value; None for anything else."""
    if isinstance(value, bool):  # CloudFormation renders YAML booleans as "true"/"false"
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return str(value)
    return None


def _resolve_value(value: Any, parameters: Mapping[str, Any]) -> str | None:
    """A literal, or a ``!Ref`` to a parameter with a ``Default``, as a string; None when unknowable locally."""
    literal = _scalar_env_value(value)
    if literal is not None:
        return literal
    if isinstance(value, dict) and set(value) == {"Ref"}:
        parameter = parameters.get(value["Ref"])
        if isinstance(parameter, dict) and "Default" in parameter:
            return _scalar_env_value(parameter["Default"])
    return None


def _resolve_int(logical_id: str, name: str, value: Any, default: int, parameters: Mapping[str, Any]) -> int:
    if value is None:
        return default
    resolved = _resolve_value(value, parameters)
    if resolved is not None and resolved.isdigit():
        return int(resolved)
    raise TemplateError(f"{logical_id}: {name} must be a number or a parameter with a default (got {value!r})")


def _environment_variables(properties: Mapping[str, Any]) -> dict[str, Any]:
    variables = (properties.get("Environment") or {}).get("Variables") or {}
    if not isinstance(variables, dict):
        raise TemplateError("Environment.Variables must be a mapping")
    return dict(variables)


def function_spec(
    template: Mapping[str, Any],
    logical_id: str,
    *,
    environ: Mapping[str, str] | None = None,
    template_dir: Path | str | None = None,
) -> FunctionSpec:
    """Resolve the function ``logical_id`` of ``template`` for a local run.

    Parameters
    ----------
    template : Mapping[str, Any]
        A template from :func:`load_template`.
    logical_id : str
        The function's logical id (``IngestFunction``).
    environ : Mapping[str, str], optional
        The calling shell's environment; a variable set here wins over the template's value. None: ignore the shell.
    template_dir : Path | str, optional
        Folder ``CodeUri`` is relative to (the template's own folder). None: the current directory.

    Returns
    -------
    FunctionSpec
        Code folder, handler, environment (Globals merged with the function's own), timeout, memory and events.

    Raises
    ------
    UnknownFunctionError
        ``logical_id`` is not an ``AWS::Serverless::Function`` of the template.
    TemplateError
        The function cannot run locally (no local ``CodeUri``, no ``Handler``, an image function).
    """
    resources = template.get("Resources") or {}
    resource = resources.get(logical_id)
    if not isinstance(resource, dict) or resource.get("Type") != SERVERLESS_FUNCTION:
        raise UnknownFunctionError(logical_id, function_ids(template))
    properties: dict[str, Any] = resource.get("Properties") or {}
    globals_: dict[str, Any] = (template.get("Globals") or {}).get("Function") or {}

    def setting(name: str) -> Any:
        return properties.get(name, globals_.get(name))

    if setting("PackageType") == "Image":
        raise TemplateError(f"{logical_id} is an image function; only zip functions run locally")
    code_uri = setting("CodeUri")
    if not isinstance(code_uri, str) or code_uri.startswith("s3://"):
        raise TemplateError(f"{logical_id} has no local CodeUri folder (got {code_uri!r})")
    handler = setting("Handler")
    if not isinstance(handler, str) or "." not in handler:
        raise TemplateError(f"{logical_id} has no Handler of the form module.function (got {handler!r})")

    shell = environ if environ is not None else {}
    parameters = template.get("Parameters") or {}
    declared = {**_environment_variables(globals_), **_environment_variables(properties)}
    environment: dict[str, str] = {}
    unresolved: list[str] = []
    for name, value in declared.items():
        resolved = shell[name] if name in shell else _resolve_value(value, parameters)
        if resolved is None:
            unresolved.append(name)
        else:
            environment[name] = resolved

    base = Path(template_dir) if template_dir is not None else Path.cwd()
    return FunctionSpec(
        logical_id=logical_id,
        code_uri=(base / code_uri).resolve(),
        handler=handler,
        environment=environment,
        timeout=_resolve_int(logical_id, "Timeout", setting("Timeout"), DEFAULT_TIMEOUT_SECONDS, parameters),
        memory=_resolve_int(logical_id, "MemorySize", setting("MemorySize"), DEFAULT_MEMORY_MB, parameters),
        events=dict(properties.get("Events") or {}),
        runtime=setting("Runtime"),
        unresolved_environment=tuple(unresolved),
    )
