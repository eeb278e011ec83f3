"""The job payload: pure building, encoding, decoding and validation of Sidekiq's job JSON.

Nothing here touches Redis, so all of it is testable with Redis stopped.
"""

from __future__ import annotations

import base64
import json
import math
import secrets
import zlib
from collections.abc import Callable, Sequence
from typing import Any

from .errors import ArgumentError, PayloadError

Payload = dict[str, Any]

#: Fields Sidekiq writes as epoch times (float seconds in 6.x, integer milliseconds in 8.x).
TIME_FIELDS = ("created_at", "enqueued_at", "failed_at", "retried_at", "discarded_at", "at")
# Integer times above this are milliseconds: 1e11 seconds is the year 5138.
_MS_THRESHOLD = 100_000_000_000

_JSON_SCALARS = (str, int, bool, type(None))
_EXACT_SCALARS = frozenset(_JSON_SCALARS)
# One shared encoder: json.dumps with options builds a new encoder on every call.
_ENCODER = json.JSONEncoder(separators=(",", ":"), allow_nan=False)


def _c_encoder() -> Callable[[Any], str]:
    # json's C encoder, built once: JSONEncoder.encode builds a new one on every call, which
    # is most of its cost for a job payload. Used only if it writes exactly what _ENCODER
    # writes (the C accelerator is optional in CPython and absent elsewhere). Without
    # circular-reference markers a cycle ends in RecursionError, which encode() reports.
    make = getattr(json.encoder, "c_make_encoder", None)
    sample = {"a": [1, -2.5, 'é\n"', None, True, {"k": [1e300, 0.1]}], "b": False}
    if make is not None:
        try:
            c_encode = make(None, _ENCODER.default, json.encoder.encode_basestring_ascii, None,
                            ":", ",", False, False, False)

            def fast(value: Any) -> str:
                return "".join(c_encode(value, 0))

            if fast(sample) == _ENCODER.encode(sample):
                return fast
        except (TypeError, ValueError):
            pass
    return _ENCODER.encode


#: One JSON value as :func:`encode` writes it inside a payload (compact, ASCII).
encode_value: Callable[[Any], str] = _c_encoder()


def new_jid() -> str:
    """24 lowercase hex characters, as Sidekiq's ``SecureRandom.hex(12)``."""
    return secrets.token_hex(12)


def epoch(value: Any) -> float:
    """An epoch time in seconds from either Sidekiq form (float seconds or int milliseconds)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise PayloadError(f"time value {value!r} is not a number of epoch seconds")
    if isinstance(value, int) and value > _MS_THRESHOLD:
        return value / 1000.0
    return float(value)


def _describe(value: Any) -> str:
    text = repr(value)
    if len(text) > 60:
        text = text[:57] + "..."
    return text


def _advice(value: Any) -> str:
    import datetime as dt
    import decimal
    import uuid

    if isinstance(value, dt.datetime | dt.date | dt.time):
        return "pass value.isoformat() and parse it in perform()"
    if isinstance(value, decimal.Decimal):
        return "pass str(value) (exact) and rebuild the Decimal in perform()"
    if isinstance(value, uuid.UUID):
        return "pass str(value)"
    if isinstance(value, tuple | set | frozenset):
        return "pass a list"
    if isinstance(value, bytes | bytearray | memoryview):
        return "decode it to text, or pass base64 text"
    if isinstance(value, float):
        return "NaN and infinity have no JSON form; pass null or a string"
    if callable(value):
        return "pass the name of what to call, not the callable"
    if hasattr(value, "pk") or hasattr(value, "id"):
        return "pass its id and load the record in perform()"
    return "pass simple JSON data (ids, strings, numbers, lists, dicts with string keys)"


def check_value(value: Any, where: str) -> None:
    """Raise :class:`ArgumentError` naming ``where`` unless ``value`` is JSON-native."""
    if type(value) in _EXACT_SCALARS or isinstance(value, _JSON_SCALARS):
        return
    if isinstance(value, float):
        if math.isfinite(value):
            return
    elif isinstance(value, list):
        for i, item in enumerate(value):
            check_value(item, f"{where}[{i}]")
        return
    elif isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise ArgumentError(
                    f"{where} has key {key!r} of type {type(key).__name__}: "
                    "JSON object keys must be strings; convert the key with str()"
                )
            check_value(item, f"{where}[{key!r}]")
        return
    raise ArgumentError(
        f"{where}={_describe(value)} is not JSON-native ({type(value).__name__}): {_advice(value)}"
    )


def check_args(args: Sequence[Any]) -> list[Any]:
    """Validate positional job arguments and return them as a list."""
    for i, value in enumerate(args):
        try:
            check_value(value, f"args[{i}]")
        except RecursionError:
            raise ArgumentError(
                f"args[{i}] is nested too deeply or contains itself; JSON has no references"
            ) from None
    return list(args)


def build(
    name: str,
    args: list[Any],
    *,
    queue: str,
    retry: bool | int,
    now: float,
    extra: dict[str, Any] | None = None,
    jid: str | None = None,
) -> Payload:
    """A fresh payload; ``extra`` adds fields such as ``dead``, ``backtrace`` or ``tags``;
    ``jid`` defaults to a new one."""
    payload: Payload = {
        "class": name,
        "args": args,
        "queue": queue,
        "retry": retry,
        "jid": jid or new_jid(),
        "created_at": float(now),
    }
    if extra:
        payload.update(extra)
    return payload


def encode(payload: Payload) -> bytes:
    """Compact JSON; floats keep their decimal point, as Sidekiq 7+ needs for seconds."""
    try:
        return encode_value(payload).encode()
    except (TypeError, ValueError) as e:
        raise PayloadError(f"payload for {payload.get('class')!r} cannot be encoded: {e}") from e
    except RecursionError as e:
        raise PayloadError(
            f"payload for {payload.get('class')!r} cannot be encoded: it is nested too deeply "
            "or contains itself"
        ) from e


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"number {text} is out of range")
    return value


# One shared decoder: json.loads with options builds a new decoder on every call.
_DECODER = json.JSONDecoder(parse_constant=_no_constant, parse_float=_finite_float)


# The decoder's scanner (C when available), called directly: JSONDecoder.decode adds two
# Python frames and two whitespace regex matches to every payload. A payload without
# surrounding whitespace (all of them, as jobkit or Sidekiq write them) is one scan; anything
# else, and every error, goes through _DECODER.decode for its exact message.
_SCAN: Callable[[str, int], tuple[Any, int]] = _DECODER.scan_once  # type: ignore[attr-defined]


def json_loads(raw: bytes | str) -> Any:
    """Strict JSON: NaN, Infinity and out-of-range numbers are errors (they could never be
    written back), and so is nesting too deep to parse; all raise :class:`PayloadError`."""
    try:
        # Job payloads are UTF-8 (RFC 8259 requires it between systems).
        text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
        try:
            value, end = _SCAN(text, 0)
        except StopIteration:
            pass
        else:
            if end == len(text):
                return value
        return _DECODER.decode(text)
    except (UnicodeDecodeError, ValueError) as e:
        raise PayloadError(f"payload is not valid JSON: {e}") from e
    except RecursionError as e:
        raise PayloadError("payload is nested too deeply to parse") from e


def decode(raw: bytes | str) -> Payload:
    """Parse and validate a payload read from Redis; :class:`PayloadError` says what is wrong."""
    payload = json_loads(raw)
    if not isinstance(payload, dict):
        raise PayloadError(f"payload is a JSON {type(payload).__name__}, not an object")
    if not _plainly_valid(payload):
        validate(payload)
    return payload


_TIME_TYPES = frozenset((float, int, type(None)))


def _plainly_valid(payload: Payload) -> bool:
    # The check every well-formed payload passes, by exact type: JSON decoding makes only
    # exact str/int/float/bool/list values, so no isinstance walk or epoch() call is needed.
    # The time fields are TIME_FIELDS, unrolled. False sends the payload through the full
    # checks, which name what is wrong.
    get = payload.get
    name, jid, queue, retry = get("class"), get("jid"), get("queue"), get("retry", False)
    count = get("retry_count")
    times = _TIME_TYPES
    return bool(
        type(name) is str and name and type(jid) is str and jid
        and type(queue) is str and queue and type(get("args")) is list
        and (retry is True or retry is False or (type(retry) is int and retry >= 0))
        and (count is None or type(count) is int)
        and type(get("created_at")) in times and type(get("enqueued_at")) in times
        and type(get("failed_at")) in times and type(get("retried_at")) in times
        and type(get("discarded_at")) in times and type(get("at")) in times
    )


def validate(payload: Payload) -> None:
    """Check the fields the worker relies on."""
    if _plainly_valid(payload):
        return
    name = payload.get("class")
    if not isinstance(name, str) or not name:
        raise PayloadError(f"payload field class={name!r} must be a non-empty string")
    if not isinstance(payload.get("args"), list):
        raise PayloadError(f"payload field args={payload.get('args')!r} must be a JSON array")
    jid = payload.get("jid")
    if not isinstance(jid, str) or not jid:
        raise PayloadError(f"payload field jid={jid!r} must be a non-empty string")
    queue = payload.get("queue")
    if not isinstance(queue, str) or not queue:
        raise PayloadError(f"payload field queue={queue!r} must be a non-empty string")
    retry = payload.get("retry", False)
    if not isinstance(retry, bool | int) or (not isinstance(retry, bool) and retry < 0):
        raise PayloadError(f"payload field retry={retry!r} must be true, false or an integer >= 0")
    count = payload.get("retry_count")
    # Negative counts are valid: Sidekiq's "Retry now" decrements the count before pushing.
    if count is not None and (isinstance(count, bool) or not isinstance(count, int)):
        raise PayloadError(f"payload field retry_count={count!r} must be an integer")
    for key in TIME_FIELDS:
        if key in payload and payload[key] is not None:
            try:
                epoch(payload[key])
            except PayloadError as e:
                raise PayloadError(f"payload field {key}: {e}") from e


def max_attempts(retry: Any, default: int) -> int:
    """Retries allowed by a payload's ``retry`` field: True = default, False = 0, int = itself."""
    if retry is True:
        return default
    if retry is False or retry is None:
        return 0
    return int(retry)


def compress_backtrace(lines: list[str]) -> str:
    """Sidekiq's ``error_backtrace`` form: base64 of zlib of a JSON array of lines."""
    return base64.b64encode(zlib.compress(json.dumps(lines).encode())).decode()


def decompress_backtrace(text: str) -> list[str]:
    """The lines stored by :func:`compress_backtrace` (or by Sidekiq)."""
    lines: list[str] = json.loads(zlib.decompress(base64.b64decode(text)))
    return lines

