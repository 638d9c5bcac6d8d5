"""Numeric limits of the wire contract (schemas/README.md, section 3)."""

MAX_MESSAGE_BYTES = 200_000
"""Largest Event Hubs message APIM's log-to-eventhub delivers intact."""

TRUNCATION_SUSPECT_BYTES = 199_000
"""A non-JSON message at least this long was most likely cut by the gateway."""

DEFAULT_CHUNK_BYTES = 147_000
MAX_CHUNK_BYTES = 149_400
DEFAULT_MAX_CHUNKS = 8

MAX_RECORD_ID_CHARS = 128
MAX_CONTENT_TYPE_CHARS = 128

MAX_TAGS = 32
MAX_TAG_KEY_CHARS = 64
MAX_TAG_VALUE_CHARS = 256

DEAD_LETTER_RAW_BYTES = 65_536
"""How much of an offending message a dead-letter row keeps."""
