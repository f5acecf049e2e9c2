"""The X-Ray SDK's Lambda context, parsing the invocation's trace header once instead of on every lookup.

The SDK's `LambdaContext` re-reads and re-parses `_X_AMZN_TRACE_ID` on every `get_trace_entity()` (a dozen
per invocation: the Tracer's subsegment, each statement, each log line's trace id). The header changes once
per invocation, so the parse is skipped while the variable still holds the header last parsed.
"""

import os

from aws_xray_sdk.core.lambda_launcher import LAMBDA_TRACE_HEADER_KEY, LambdaContext


class ParsedOnceLambdaContext(LambdaContext):
    def _refresh_context(self) -> None:
        header = os.environ.get(LAMBDA_TRACE_HEADER_KEY)
        local = self._local
        if header and header == getattr(local, "parsed_header", None) and local.segment is local.parsed_segment:
            return
        super()._refresh_context()
        local.parsed_header, local.parsed_segment = header, local.segment
