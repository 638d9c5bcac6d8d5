"""Storage locations for every stage: one reading of a URL, one credential rule, one probe, one atomic publish.

`open_location` (location.py) is the factory that chooses a local directory or a Blob container once;
`read_config_file` (files.py) reads a configuration file from either. See urls.py for the accepted forms.
"""

from common.storage.connection import CONNECTION_STRING_VARIABLE, parse_connection_string
from common.storage.errors import StorageLocationError, StorageUnavailableError
from common.storage.files import ConfigFile, read_config_file
from common.storage.urls import StorageKind, StorageUrl, mask_location, parse_storage_url

__all__ = [
    "CONNECTION_STRING_VARIABLE",
    "ConfigFile",
    "StorageKind",
    "StorageLocationError",
    "StorageUnavailableError",
    "StorageUrl",
    "mask_location",
    "parse_connection_string",
    "parse_storage_url",
    "read_config_file",
]
