package backchannel

import "time"

// SetNow sets h's clock; call it before h handles a request.
func SetNow(h *Handler, now func() time.Time) { h.now = now }

// CachedVerifiers reports how many providers' verifiers h keeps.
func CachedVerifiers(h *Handler) int { return h.providers.len() }
