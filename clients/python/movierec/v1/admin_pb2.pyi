from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional

DESCRIPTOR: _descriptor.FileDescriptor

class GetModelInfoRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ModelInfo(_message.Message):
    __slots__ = ("version", "created", "loaded_at", "metrics", "catalog_size", "user_count", "registry_dir")
    class MetricsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    VERSION_FIELD_NUMBER: _ClassVar[int]
    CREATED_FIELD_NUMBER: _ClassVar[int]
    LOADED_AT_FIELD_NUMBER: _ClassVar[int]
    METRICS_FIELD_NUMBER: _ClassVar[int]
    CATALOG_SIZE_FIELD_NUMBER: _ClassVar[int]
    USER_COUNT_FIELD_NUMBER: _ClassVar[int]
    REGISTRY_DIR_FIELD_NUMBER: _ClassVar[int]
    version: str
    created: str
    loaded_at: str
    metrics: _containers.ScalarMap[str, float]
    catalog_size: int
    user_count: int
    registry_dir: str
    def __init__(self, version: _Optional[str] = ..., created: _Optional[str] = ..., loaded_at: _Optional[str] = ..., metrics: _Optional[_Mapping[str, float]] = ..., catalog_size: _Optional[int] = ..., user_count: _Optional[int] = ..., registry_dir: _Optional[str] = ...) -> None: ...

class ReloadRequest(_message.Message):
    __slots__ = ("version",)
    VERSION_FIELD_NUMBER: _ClassVar[int]
    version: str
    def __init__(self, version: _Optional[str] = ...) -> None: ...

class ReloadResponse(_message.Message):
    __slots__ = ("previous_version", "version", "changed")
    PREVIOUS_VERSION_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    CHANGED_FIELD_NUMBER: _ClassVar[int]
    previous_version: str
    version: str
    changed: bool
    def __init__(self, previous_version: _Optional[str] = ..., version: _Optional[str] = ..., changed: _Optional[bool] = ...) -> None: ...
