"""Connect error details as the Connect protocol names them, mended at the gateway.

Envoy's connect_grpc_bridge turns grpc-status-details-bin into the Connect error's JSON `details`,
but writes each detail's `type` as the Any's type URL (`type.googleapis.com/google.rpc.ErrorInfo`)
where the protocol wants the message's full name (`google.rpc.ErrorInfo`). connect-go accepts
both; connect-es matches the name exactly and so finds no ErrorInfo at all. A Lua filter placed
before the bridge (so after it on the way back) drops the prefix from Connect error bodies only.
"""

from typing import Any

TYPES = "type.googleapis.com/envoy.extensions.filters.http"

# Only Connect calls are touched (connect-es sends connect-protocol-version on every call), and
# only their errors: a successful call's body is never buffered.
SOURCE = """
function envoy_on_request(request)
  if request:headers():get("connect-protocol-version") ~= nil then
    request:streamInfo():dynamicMetadata():set("usersuite.connect", "call", true)
  end
end

function envoy_on_response(response)
  local connect = response:streamInfo():dynamicMetadata():get("usersuite.connect")
  if connect == nil or response:headers():get(":status") == "200" then
    return
  end
  local body = response:body()
  if body == nil or body:length() == 0 then
    return
  end
  local fixed, count = string.gsub(body:getBytes(0, body:length()),
    '"type":"type%.googleapis%.com/', '"type":"')
  if count > 0 then
    body:setBytes(fixed)
  end
end
"""


def connect_error_details() -> dict[str, Any]:
    return {
        "name": "envoy.filters.http.lua",
        "typed_config": {
            "@type": f"{TYPES}.lua.v3.Lua",
            "default_source_code": {"inline_string": SOURCE.strip() + "\n"},
        },
    }
