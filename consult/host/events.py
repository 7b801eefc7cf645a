"""Socket events of the host view (namespace /host)."""
from .. import live

NS = live.HOST_NS
