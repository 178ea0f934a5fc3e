"""OCC's event webhooks, emulated: a namespace's subscribers (``subscribers``), the signed
message (``envelope``), its delivery on the namespace's clock with retries (``delivery``),
what still failed (``failed``), the fault rules a delivery obeys (``faults``), and the one
object a namespace holds of them (``hub.Webhooks``). No HTTP server, no vendor: a vendor
hands over an ``envelope.Event`` and the rest happens here (docs/webhooks.md)."""
