-- Istio standard metrics for the lab's HAProxy sidecar: istio_requests_total and
-- istio_request_duration_milliseconds, labelled like Istio's (reference/envoy-telemetry.md), served as
-- Prometheus text on :15020/stats/prometheus (Istio's merged-metrics port). Counted per request from
-- `http-after-response set-var(txn.counted) lua.istio_count`, so local replies (403 RBAC, 503) count too.
-- Principals come from mTLS like Istio's: on the destination side the peer certificate's SPIFFE ID and the
-- sidecar's own, connection_security_policy "mutual_tls"; plaintext callers are "unknown" / "none". The source
-- side reports its own principal when it originated mTLS and "unknown" as Istio does for the security policy.
local pod = os.getenv("LAB_POD")
local own = os.getenv("LAB_PRINCIPAL")
local ns = os.getenv("LAB_NAMESPACE")
local workloads = Map.new(os.getenv("LAB_WORKLOADS_MAP"), Map._ip)

local BUCKETS = { 0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000, 600000,
  1800000, 3600000 }
local counts, sums, hist, order = {}, {}, {}, {}
local rbac, rbac_order = {}, {}

local function esc(v)
  return (tostring(v):gsub("\\", "\\\\"):gsub("\n", "\\n"):gsub('"', '\\"'))
end

local function svc(workload)
  if workload == "unknown" then return "unknown" end
  return workload .. "." .. ns .. ".svc.cluster.local"
end

core.register_fetches("istio_count", function(txn)
  local inbound = txn.f:fe_name():sub(1, 7) == "inbound"
  local mtls = txn:get_var("txn.mtls") ~= nil
  local peer_id = txn:get_var("txn.peer")
  local src_principal, dst_principal = "unknown", "unknown"
  if inbound and mtls then
    src_principal = peer_id and ("spiffe://" .. peer_id) or "unknown"
    dst_principal = own
  elseif not inbound and txn:get_var("txn.usni") ~= nil then
    src_principal = own
  end
  local peer = workloads:lookup(inbound and txn.f:src() or txn.f:dst()) or "unknown"
  local src, dst = pod, peer
  if inbound then src, dst = peer, pod end
  local start = tonumber(txn:get_var("txn.ms")) or 0
  local now = core.now()
  local ms = now.sec * 1000 + now.usec / 1000 - start
  local labels = string.format(
    'reporter="%s",source_workload="%s",source_workload_namespace="%s",source_principal="%s",' ..
    'source_app="%s",source_canonical_service="%s",destination_workload="%s",destination_workload_namespace="%s",' ..
    'destination_principal="%s",destination_app="%s",destination_service="%s",destination_service_name="%s",' ..
    'destination_service_namespace="%s",request_protocol="http",response_code="%s",grpc_response_status="",' ..
    'response_flags="%s",connection_security_policy="%s"',
    inbound and "destination" or "source", esc(src), src == "unknown" and "unknown" or ns, esc(src_principal),
    esc(src), esc(src), esc(dst), dst == "unknown" and "unknown" or ns, esc(dst_principal), esc(dst), esc(svc(dst)), esc(dst), dst == "unknown" and "unknown" or ns,
    tostring(txn.sf:status() or 0), esc(txn:get_var("txn.flags") or "-"), inbound and (mtls and "mutual_tls" or "none") or "unknown")
  if counts[labels] == nil then
    counts[labels], sums[labels], hist[labels] = 0, 0, {}
    for i = 1, #BUCKETS do hist[labels][i] = 0 end
    order[#order + 1] = labels
  end
  if inbound and txn:get_var("txn.rbac_on") then
    -- Envoy's RBAC filter counters per inbound listener, named as Istio's stats tags name them
    local port = tostring(txn.f:dst_port())
    if rbac[port] == nil then
      rbac[port] = { allowed = 0, denied = 0 }
      rbac_order[#rbac_order + 1] = port
    end
    local r = txn:get_var("txn.rbac") and "denied" or "allowed"
    rbac[port][r] = rbac[port][r] + 1
  end
  counts[labels] = counts[labels] + 1
  sums[labels] = sums[labels] + ms
  for i = 1, #BUCKETS do
    if ms <= BUCKETS[i] then hist[labels][i] = hist[labels][i] + 1 end
  end
  return "1"
end)

core.register_service("istio_metrics", "http", function(applet)
  local out = { "# TYPE istio_requests_total counter" }
  for _, l in ipairs(order) do out[#out + 1] = string.format("istio_requests_total{%s} %d", l, counts[l]) end
  out[#out + 1] = "# TYPE istio_request_duration_milliseconds histogram"
  for _, l in ipairs(order) do
    for i = 1, #BUCKETS do
      out[#out + 1] = string.format('istio_request_duration_milliseconds_bucket{%s,le="%s"} %d', l, tostring(BUCKETS[i]), hist[l][i])
    end
    out[#out + 1] = string.format('istio_request_duration_milliseconds_bucket{%s,le="+Inf"} %d', l, counts[l])
    out[#out + 1] = string.format("istio_request_duration_milliseconds_sum{%s} %.3f", l, sums[l])
    out[#out + 1] = string.format("istio_request_duration_milliseconds_count{%s} %d", l, counts[l])
  end
  for _, port in ipairs(rbac_order) do
    out[#out + 1] = string.format("# TYPE envoy_http_inbound_0_0_0_0_%s_rbac counter", port)
    for _, r in ipairs({ "allowed", "denied" }) do
      out[#out + 1] = string.format('envoy_http_inbound_0_0_0_0_%s_rbac{authz_enforce_result="%s"} %d', port, r, rbac[port][r])
    end
  end
  local body = table.concat(out, "\n") .. "\n"
  applet:set_status(200)
  applet:add_header("content-type", "text/plain; version=0.0.4")
  applet:add_header("content-length", string.len(body))
  applet:start_response()
  applet:send(body)
end)
