"""The UDP emitter given to the X-Ray recorder, in both doors.

The SDK's `UDPEmitter.send_entity` formats a debug string of the whole document even with debug logging
off, and serializes with `json.dumps(default=str)`; this one sends the same datagram, serialized with orjson.
"""

import logging

import orjson
from aws_xray_sdk.core.emitters.udp_emitter import PROTOCOL_DELIMITER, PROTOCOL_HEADER, UDPEmitter

log = logging.getLogger(__name__)

_DATAGRAM_HEADER = (PROTOCOL_HEADER + PROTOCOL_DELIMITER).encode()


class DaemonEmitter(UDPEmitter):
    def send_entity(self, entity) -> None:
        try:
            document = orjson.dumps(entity.to_dict(), default=str)
            self._socket.sendto(_DATAGRAM_HEADER + document, (self._ip, self._port))
        except Exception:  # as the SDK's: a lost trace never fails a request
            log.exception("Failed to send entity to the X-Ray daemon.")
