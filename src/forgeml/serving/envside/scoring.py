"""What an online deployment scores with: a custom entry script or an MLflow model (no-code).

A scorer turns a request body into response JSON bytes. The custom one imports the user's entry
script by path, calls its ``init()`` once and its ``run(raw_data)`` per request with the body as a
string (Azure ML's contract); the MLflow one loads the folder holding an ``MLmodel`` file with
``mlflow.pyfunc.load_model`` and parses both Azure ML's ``input_data`` payloads (answered with a
bare list) and MLflow's own ``dataframe_split``/``dataframe_records``/``instances``/``inputs``
payloads (answered as ``{"predictions": ...}``, like ``mlflow models serve``). Request problems
raise ``BadRequest`` (HTTP 400); both scorers also describe themselves as an OpenAPI document.
Standard library only: mlflow, pandas and numpy are imported when an MLflow model is loaded.
"""

from __future__ import annotations

import base64
import datetime
import decimal
import importlib
import importlib.util
import inspect
import io
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

AZURE_KEY = "input_data"
MLFLOW_KEYS = ("dataframe_split", "dataframe_records", "instances", "inputs")
ACCEPTED_KEYS = (AZURE_KEY, *MLFLOW_KEYS)
_ACCEPTED_TEXT = (
    "'input_data' (Azure ML: pandas split {columns, index, data}, a list, or a dict of lists), "
    "or one of 'dataframe_split', 'dataframe_records', 'instances', 'inputs' (MLflow), "
    "optionally with 'params'"
)
_SPLIT_KEYS = frozenset(("columns", "index", "data"))
_MAX_MESSAGE = 4000


class BadRequest(Exception):
    """The request cannot be scored as sent; the message says what was wrong (HTTP 400)."""


class OutputError(Exception):
    """The scoring code answered with something that cannot be sent as JSON (HTTP 500)."""


class LoadError(Exception):
    """What to score with cannot be found or loaded (the host exits before it binds)."""


class Scorer(Protocol):
    """Scores one request body; `call_name` names the user code in error messages."""

    kind: str
    call_name: str

    def score(self, body: bytes, content_type: str) -> bytes: ...

    def openapi(self, title: str) -> dict[str, Any]: ...


def _json_default(value: Any) -> Any:
    # numpy arrays and scalars, pandas Series and Index all have tolist(); a DataFrame goes out
    # as records, as MLflow's scoring server sends it
    if hasattr(value, "to_dict") and hasattr(value, "columns"):
        return value.to_dict(orient="records")
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, (datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, (set, frozenset)):
        return list(value)
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, decimal.Decimal):
        return float(value)
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def dumps(value: Any, producer: str) -> bytes:
    """JSON bytes of a scoring result; numpy and pandas values become lists."""
    try:
        # json.dumps spacing, as Azure ML's inference server and `mlflow models serve` answer
        return json.dumps(value, default=_json_default).encode()
    except (TypeError, ValueError) as exc:
        message = f"{producer} returned a value that cannot be sent as JSON: {exc}"
        raise OutputError(message) from exc


def _message(exc: BaseException) -> str:
    text = str(exc)
    return text if len(text) <= _MAX_MESSAGE else text[:_MAX_MESSAGE] + " ... (truncated)"


# ------------------------------------------------------------------------------ entry script


def import_script(path: Path) -> Any:
    """Import a scoring script by path, with its folder on sys.path for its sibling modules."""
    script = path.resolve()
    if not script.is_file():
        raise LoadError(f"entry script {script} does not exist")
    folder = str(script.parent)
    if folder not in sys.path:
        sys.path.insert(0, folder)
    # registered under its own name, so objects pickled from it (and `import score`) resolve
    name = script.stem if script.stem.isidentifier() else "forgeml_entry_script"
    if name in sys.modules:
        name = "forgeml_entry_script"
    spec = importlib.util.spec_from_file_location(name, script)
    if spec is None or spec.loader is None:
        raise LoadError(f"cannot import entry script {script}: not a Python source file")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


class EntryScriptScorer:
    """Azure ML's custom scoring contract: `init()` once, then `run(raw_data)` per request."""

    kind = "custom"
    call_name = "run()"

    def __init__(self, script: Path) -> None:
        module = import_script(script)
        run = getattr(module, "run", None)
        if not callable(run):
            raise LoadError(f"entry script {script} defines no run(raw_data) function")
        init = getattr(module, "init", None)
        if init is not None and not callable(init):
            raise LoadError(f"entry script {script}: `init` is not a function")
        self.script = script
        if init is not None:
            init()
        self._run: Callable[[str], Any] = run

    def score(self, body: bytes, content_type: str) -> bytes:
        try:
            raw = body.decode()
        except UnicodeDecodeError as exc:
            raise BadRequest(f"the request body is not UTF-8 text: {exc}") from exc
        try:
            result = self._run(raw)
        except (ValueError, TypeError, KeyError) as exc:
            # json.JSONDecodeError is a ValueError: a script's json.loads of a bad body is a 400
            raise BadRequest(_message(exc)) from exc
        return dumps(result, "run()")

    def openapi(self, title: str) -> dict[str, Any]:
        return openapi_document(
            title,
            "Scores the request body with the deployment's entry script: run(raw_data) gets the "
            f"body as a string ({self.script.name}).",
            request={"type": "object", "description": "whatever the entry script's run() reads"},
            response={"description": "the JSON-serialized return value of run()"},
        )


# ------------------------------------------------------------------------------ MLflow model


def find_mlflow_model(model_dir: Path) -> Path:
    """The folder holding `MLmodel`: the model dir itself or exactly one folder inside it."""
    if (model_dir / "MLmodel").is_file():
        return model_dir
    if not model_dir.is_dir():
        raise LoadError(f"model folder {model_dir} does not exist")
    found = sorted(p.parent for p in model_dir.glob("*/MLmodel") if p.is_file())
    if len(found) == 1:
        return found[0]
    if not found:
        raise LoadError(
            f"no MLmodel file in {model_dir} or in a folder directly inside it: a deployment "
            "without a scoring script needs an MLflow model (the folder written by "
            "mlflow.<flavor>.save_model); give the deployment a scoring script and an "
            "environment to serve other models"
        )
    names = ", ".join(p.name for p in found)
    raise LoadError(
        f"{model_dir} holds {len(found)} MLflow models ({names}); a no-code deployment serves "
        "one: register each as its own model, or add a scoring script that picks one"
    )


class MlflowScorer:
    """An MLflow model served without a scoring script, as Azure ML and `mlflow serve` do."""

    kind = "mlflow"
    call_name = "predict()"

    def __init__(self, model_dir: Path) -> None:
        self.path = find_mlflow_model(model_dir)
        pyfunc: Any = importlib.import_module("mlflow.pyfunc")
        self._pd: Any = importlib.import_module("pandas")
        self._np: Any = importlib.import_module("numpy")
        model = pyfunc.load_model(str(self.path))
        self._predict: Callable[..., Any] = model.predict
        self._takes_params = "params" in inspect.signature(model.predict).parameters
        self._mlflow_error: type[BaseException] = importlib.import_module(
            "mlflow.exceptions"
        ).MlflowException
        metadata = model.metadata
        self.signature: dict[str, Any] = {}
        signature = getattr(metadata, "signature", None)
        if signature is not None:
            self.signature = {k: v for k, v in signature.to_dict().items() if v}
        self._schema = metadata.get_input_schema() if signature is not None else None
        self._columns: list[str] | None = None
        schema = self._schema
        if schema is not None and not schema.is_tensor_spec() and schema.has_input_names():
            self._columns = list(schema.input_names())
        self._helpers = _mlflow_parsers()
        self._numeric = numeric_columns(schema)
        # a scikit-learn model with an all-numeric signature: once the frame has the signature's
        # columns, in order, cast to its types (what `_frame` and `_direct_frame` make sure of),
        # MLflow's schema enforcement has nothing left to do, so the flavor's own predict is
        # called without it (it costs as much as the model's predict here)
        flavors = getattr(metadata, "flavors", None) or {}
        impl = getattr(model, "_model_impl", None)
        loader = (flavors.get("python_function") or {}).get("loader_module")
        self._direct: Any = (
            impl
            if self._numeric and loader == "mlflow.sklearn" and hasattr(impl, "predict")
            else None
        )

    # parsing -------------------------------------------------------------------------------

    def _frame(self, value: Any, orient: str) -> Any:
        if self._numeric is None and self._helpers is not None:
            return self._helpers[0](value, pandas_orient=orient, schema=self._schema)
        if orient == "split":
            frame = self._pd.DataFrame(
                data=value["data"], columns=value.get("columns"), index=value.get("index")
            )
        else:
            frame = self._pd.DataFrame(data=value)
        if self._numeric:
            # the common all-numeric signature, cast in one call: JSON's 1 for a double column
            wrong = {
                column: dtype
                for column, dtype in frame.dtypes.items()
                if column in self._numeric and dtype != self._numeric[column]
            }
            if wrong:
                try:
                    frame = frame.astype({c: self._numeric[c] for c in wrong})
                except (ValueError, TypeError) as exc:
                    names = ", ".join(str(c) for c in wrong)
                    raise BadRequest(
                        f"Data is not compatible with model signature: cannot convert column(s) "
                        f"{names} to the signature's types: {exc}"
                    ) from exc
        return frame

    def _tensors(self, key: str, value: Any) -> Any:
        if self._columns and isinstance(value, list) and value and isinstance(value[0], list):
            # rows of values for a model with named columns: name them from the signature
            return self._frame({"columns": self._columns, "data": value}, "split")
        if self._helpers is not None:
            return self._helpers[1]({key: value}, schema=self._schema)
        if isinstance(value, dict):
            return {k: self._np.asarray(v) for k, v in value.items()}
        if isinstance(value, list) and value and isinstance(value[0], dict):
            return self._pd.DataFrame(data=value)
        return self._np.asarray(value)

    def parse(self, payload: Any) -> tuple[Any, dict[str, Any] | None, bool]:
        """(model input, params, whether the payload is Azure ML's `input_data` form)."""
        if not isinstance(payload, dict):
            raise BadRequest(
                f"the payload must be a JSON object with {_ACCEPTED_TEXT}; got a JSON "
                f"{_json_kind(payload)}"
            )
        keys = [key for key in ACCEPTED_KEYS if key in payload]
        if len(keys) != 1:
            got = ", ".join(repr(k) for k in payload) or "none"
            raise BadRequest(
                f"the payload must have exactly one of the keys {_ACCEPTED_TEXT}; got keys: {got}"
            )
        key = keys[0]
        params = payload.get("params")
        if params is not None and not isinstance(params, dict):
            raise BadRequest(f"'params' must be a JSON object, got a JSON {_json_kind(params)}")
        value = payload[key]
        try:
            if key == AZURE_KEY:
                if isinstance(value, dict) and "data" in value and value.keys() <= _SPLIT_KEYS:
                    return self._frame(value, "split"), params, True
                if not isinstance(value, (list, dict)):
                    raise BadRequest(
                        "'input_data' must be pandas split {columns, index, data}, a list or a "
                        f"dict of lists; got a JSON {_json_kind(value)}"
                    )
                return self._tensors("inputs", value), params, True
            if key == "dataframe_split":
                if not isinstance(value, dict) or "data" not in value or value.keys() - _SPLIT_KEYS:
                    raise BadRequest(
                        "'dataframe_split' must be an object with 'data' and optionally "
                        f"'columns' and 'index'; got a JSON {_json_kind(value)}"
                        + (f" with keys {sorted(value)}" if isinstance(value, dict) else "")
                    )
                return self._frame(value, "split"), params, False
            if key == "dataframe_records":
                if not isinstance(value, list):
                    raise BadRequest(
                        "'dataframe_records' must be a list of records (objects); got a JSON "
                        f"{_json_kind(value)}"
                    )
                return self._frame(value, "records"), params, False
            return self._tensors(key, value), params, False
        except BadRequest:
            raise
        except (self._mlflow_error, ValueError, TypeError, KeyError) as exc:
            raise BadRequest(f"cannot read '{key}': {_message(exc)}") from exc

    def _csv(self, body: bytes) -> Any:
        try:
            return self._pd.read_csv(io.BytesIO(body))
        except Exception as exc:
            raise BadRequest(f"cannot read the CSV body as a table: {_message(exc)}") from exc

    # scoring -------------------------------------------------------------------------------

    def score(self, body: bytes, content_type: str) -> bytes:
        if content_type.startswith("text/csv"):
            data, params, azure = self._csv(body), None, False
        else:
            try:
                payload = json.loads(body)
            except (ValueError, UnicodeDecodeError) as exc:
                raise BadRequest(f"the request body is not valid JSON: {exc}") from exc
            data, params, azure = self.parse(payload)
        try:
            if params and self._takes_params:
                result = self._predict(data, params=params)
            elif self._direct is not None and isinstance(data, self._pd.DataFrame):
                result = self._direct.predict(self._direct_frame(data))
            else:
                result = self._predict(data)
        except (self._mlflow_error, ValueError, TypeError, KeyError) as exc:
            # MLflow reports a payload that does not fit the signature as an MlflowException
            raise BadRequest(_message(exc)) from exc
        if azure:
            return dumps(result, "predict()")
        return dumps({"predictions": result}, "predict()")

    def _direct_frame(self, frame: Any) -> Any:
        """The frame as schema enforcement would hand it to the model: the signature's
        columns, in its order, of its types."""
        assert self._columns is not None and self._numeric is not None
        missing = [c for c in self._columns if c not in frame.columns]
        if missing:
            raise BadRequest(
                f"Model is missing inputs {missing}; the signature's inputs are {self._columns}."
            )
        if list(frame.columns) != self._columns:
            frame = frame[self._columns]
        wrong = {c: t for c, t in self._numeric.items() if frame.dtypes[c] != t}
        return frame.astype(wrong) if wrong else frame

    def openapi(self, title: str) -> dict[str, Any]:
        inputs = _loads_list(self.signature.get("inputs"))
        outputs = _loads_list(self.signature.get("outputs"))
        params = _loads_list(self.signature.get("params"))
        row, record = _row_schemas(inputs)
        data = {"type": "array", "items": row}
        split: dict[str, Any] = {
            "type": "object",
            "required": ["data"],
            "properties": {
                "columns": _columns_schema(inputs),
                "index": {"type": "array", "items": {}},
                "data": data,
            },
        }
        params_schema = _params_schema(params)

        def wrapped(key: str, value: dict[str, Any]) -> dict[str, Any]:
            properties = {key: value, "params": params_schema}
            return {"type": "object", "required": [key], "properties": properties}

        named = {"type": "object", "additionalProperties": {"type": "array", "items": {}}}
        request = {
            "oneOf": [
                wrapped(AZURE_KEY, {"oneOf": [split, data, named]}),
                wrapped("dataframe_split", split),
                wrapped("dataframe_records", {"type": "array", "items": record}),
                wrapped("instances", {"type": "array", "items": record}),
                wrapped("inputs", {"oneOf": [data, named]}),
            ]
        }
        predictions = {"type": "array", "items": _output_item(outputs)}
        response = {
            "description": "a bare list for 'input_data' payloads, {\"predictions\": [...]} for "
            "MLflow-style payloads",
            "schema": {
                "oneOf": [
                    predictions,
                    {
                        "type": "object",
                        "required": ["predictions"],
                        "properties": {"predictions": predictions},
                    },
                ]
            },
        }
        doc = openapi_document(
            title,
            f"Scores with the MLflow model in {self.path.name} (no scoring script).",
            request=request,
            response=response,
        )
        example = self.path / "serving_input_example.json"
        if example.is_file() and example.stat().st_size <= 65536:
            try:
                body = doc["paths"]["/score"]["post"]["requestBody"]["content"]
                body["application/json"]["example"] = json.loads(example.read_text())
            except ValueError:
                pass
        return doc


def _mlflow_parsers() -> tuple[Callable[..., Any], Callable[..., Any]] | None:
    """MLflow's own payload parsers, which cast JSON values to the signature's types."""
    try:
        utils: Any = importlib.import_module("mlflow.utils.proto_json_utils")
        frame, tensors = utils.dataframe_from_parsed_json, utils.parse_tf_serving_input
        if "schema" not in inspect.signature(tensors).parameters:
            return None
    except (ImportError, AttributeError):
        return None
    return frame, tensors


def numeric_columns(schema: Any) -> dict[str, Any] | None:
    """Column name -> numpy dtype when every input is a named numeric or boolean column."""
    if schema is None or schema.is_tensor_spec() or not schema.has_input_names():
        return None
    dtypes = {}
    for spec in schema.inputs:
        kind = getattr(spec.type, "name", None)
        if kind not in ("double", "float", "long", "integer", "boolean"):
            return None
        dtypes[spec.name] = spec.type.to_numpy()
    return dtypes


def _json_kind(value: Any) -> str:
    kinds = {dict: "object", list: "array", str: "string", bool: "boolean", type(None): "null"}
    return kinds.get(type(value), "number")


# ------------------------------------------------------------------------------ OpenAPI


_COLUMN_TYPES: dict[str, dict[str, Any]] = {
    "double": {"type": "number"},
    "float": {"type": "number"},
    "long": {"type": "integer"},
    "integer": {"type": "integer"},
    "boolean": {"type": "boolean"},
    "string": {"type": "string"},
    "binary": {"type": "string", "format": "byte"},
    "datetime": {"type": "string", "format": "date-time"},
}


def _loads_list(text: Any) -> list[dict[str, Any]]:
    if not text:
        return []
    try:
        value = json.loads(text) if isinstance(text, str) else text
    except ValueError:
        return []
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def _spec_schema(spec: dict[str, Any]) -> dict[str, Any]:
    if spec.get("type") == "tensor":
        dtype = str(spec.get("tensor-spec", {}).get("dtype", ""))
        shape = spec.get("tensor-spec", {}).get("shape") or [-1]
        if dtype.startswith(("float", "double")):
            item: dict[str, Any] = {"type": "number"}
        elif dtype.startswith(("int", "uint")):
            item = {"type": "integer"}
        elif dtype.startswith("bool"):
            item = {"type": "boolean"}
        else:
            item = {}
        for _ in shape[1:]:
            item = {"type": "array", "items": item}
        return item
    return dict(_COLUMN_TYPES.get(str(spec.get("type")), {}))


def _row_schemas(inputs: list[dict[str, Any]]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(one row of `data`, one record) for the signature's inputs; generic without one."""
    if not inputs:
        return {"type": "array", "items": {}}, {"type": "object"}
    if len(inputs) == 1 and inputs[0].get("type") == "tensor":
        item = _spec_schema(inputs[0])
        return item, {"type": "object"}
    items = [_spec_schema(spec) for spec in inputs]
    row = {"type": "array", "items": {}, "minItems": len(items), "maxItems": len(items)}
    record: dict[str, Any] = {"type": "object", "properties": {}}
    required = []
    for spec, schema in zip(inputs, items):  # noqa: B905 (runs on Python < 3.10 too)
        if "name" in spec:
            record["properties"][spec["name"]] = schema
            if spec.get("required", True):
                required.append(spec["name"])
    if required:
        record["required"] = required
    return row, record


def _columns_schema(inputs: list[dict[str, Any]]) -> dict[str, Any]:
    names = [spec["name"] for spec in inputs if "name" in spec]
    schema: dict[str, Any] = {"type": "array", "items": {"type": "string"}}
    if names:
        schema["example"] = names
    return schema


def _params_schema(params: list[dict[str, Any]]) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object", "description": "passed to predict(params=...)"}
    if params:
        schema["properties"] = {
            p["name"]: {**_spec_schema(p), "default": p.get("default")}
            for p in params
            if "name" in p
        }
    return schema


def _output_item(outputs: list[dict[str, Any]]) -> dict[str, Any]:
    if not outputs:
        return {}
    if len(outputs) == 1:
        return _spec_schema(outputs[0])
    properties = {spec["name"]: _spec_schema(spec) for spec in outputs if "name" in spec}
    return {"type": "object", "properties": properties}


def openapi_document(
    title: str, description: str, request: dict[str, Any], response: dict[str, Any]
) -> dict[str, Any]:
    """An OpenAPI 3 document for `POST /score`, with the host's error responses."""
    error = {"$ref": "#/components/schemas/Error"}
    ok: dict[str, Any] = {"description": response.get("description", "the scoring result")}
    ok["content"] = {"application/json": {"schema": response.get("schema", {})}}

    def failure(text: str) -> dict[str, Any]:
        return {"description": text, "content": {"application/json": {"schema": error}}}

    return {
        "openapi": "3.0.3",
        "info": {"title": title, "version": "1.0", "description": description},
        "paths": {
            "/score": {
                "post": {
                    "operationId": "score",
                    "summary": "Score a request",
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {"schema": request}},
                    },
                    "responses": {
                        "200": ok,
                        "400": failure("the request cannot be scored as sent (BadRequest)"),
                        "429": failure("every scoring slot stayed busy (TooManyRequests)"),
                        "500": failure("the scoring code failed (ScoringError), with an error id"),
                    },
                }
            }
        },
        "components": {
            "schemas": {
                "Error": {
                    "type": "object",
                    "required": ["error"],
                    "properties": {
                        "error": {
                            "type": "object",
                            "required": ["code", "message"],
                            "properties": {
                                "code": {"type": "string"},
                                "message": {"type": "string"},
                                "error_id": {"type": "string"},
                            },
                        }
                    },
                }
            }
        },
    }


def load_scorer(entry_script: Path | None, model_dir: Path | None) -> Scorer:
    """The custom script's scorer when there is one, else the MLflow model's in `model_dir`."""
    if entry_script is not None:
        return EntryScriptScorer(entry_script)
    if model_dir is None:
        raise LoadError("nothing to score with: give an entry script or an MLflow model folder")
    return MlflowScorer(model_dir)
