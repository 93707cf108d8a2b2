-- The peer's identity for the lab's HAProxy sidecar, as Envoy takes it for RBAC: the URI SAN of the verified
-- peer certificate without "spiffe://" (cluster.local/ns/<ns>/sa/<sa>). HAProxy 2.6 has no SAN sample fetch,
-- so the DER is scanned for the SAN's GeneralName: context tag [6] (0x86), a one-byte length (the lab's URIs
-- are shorter than 128 bytes), then "spiffe://". nil (the variable stays unset) without a certificate.
core.register_fetches("peer_principal", function(txn)
  local der = txn.f:ssl_c_der()
  if der == nil or der == "" then return nil end
  local _, e, len = der:find("\134(.)spiffe://")
  if not e then return nil end
  return der:sub(e + 1, e - 9 + len:byte())
end)
