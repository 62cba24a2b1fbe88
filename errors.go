package logout

import (
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
)

// Errors that callers can test for with errors.Is. Every error handed to
// Config.ErrorHandler wraps one of these, and every error of the package
// starts with "logout: ", once.
var (
	// ErrInvalidConfig is wrapped by every error New returns.
	ErrInvalidConfig = errors.New("logout: invalid config")
	// ErrInvalidEndpoint means an endpoint of the provider (end-session or
	// revocation) is not an absolute http or https URL without userinfo
	// or fragment. The message names which.
	ErrInvalidEndpoint = errors.New("logout: invalid endpoint")
	// ErrMissingHint means post_logout_redirect_uri was requested without
	// id_token_hint or client_id, which providers require.
	ErrMissingHint = errors.New("logout: post_logout_redirect_uri requires id_token_hint or client_id")

	// ErrCrossSite means a cross-site request to the logout path was refused.
	ErrCrossSite = errors.New("logout: cross-site request refused")
	// ErrCrossSiteNavigation is wrapped, with ErrCrossSite, by the refusal
	// of a cross-site top-level GET navigation to the logout path: a link
	// on another site, in an e-mail, or an old bookmark. DefaultErrorHandler
	// answers it with a small confirmation page (200, a button that posts
	// the logout from the app's own origin), so that the user has a way
	// forward; an ErrorHandler that wants the bare 403 answers it as any
	// ErrCrossSite. Cross-site POSTs and subresource requests are refused
	// with ErrCrossSite alone.
	ErrCrossSiteNavigation = errors.New("logout: cross-site navigation to the logout path")
	// ErrPrefetch means a speculative prefetch or prerender of the logout
	// path was refused: only a real navigation or form post logs out.
	ErrPrefetch = errors.New("logout: prefetch of the logout path refused")
	// ErrMethodNotAllowed means the request used a method the path does not accept.
	ErrMethodNotAllowed = errors.New("logout: method not allowed")
	// ErrSessionSave means the session could not be cleared; the user is
	// not logged out.
	ErrSessionSave = errors.New("logout: clearing the session failed")
	// ErrTombstone means the tombstone of a session could not be recorded
	// at logout (see SessionCheckConfig.FailOpen); the user is not logged
	// out.
	ErrTombstone = errors.New("logout: recording the session tombstone failed")
	// ErrHook means Config.BeforeLogout returned an error.
	ErrHook = errors.New("logout: BeforeLogout hook failed")
	// ErrDiscovery means the provider's discovery document could not be
	// fetched or is invalid.
	ErrDiscovery = errors.New("logout: discovery failed")
	// ErrNoEndSessionEndpoint means the provider's discovery document has
	// no end_session_endpoint: it does not support RP-Initiated Logout.
	ErrNoEndSessionEndpoint = errors.New("logout: provider has no end_session_endpoint")
	// ErrRevocation means a token could not be revoked at the provider: the
	// revocation endpoint is unknown or unreachable, or it refused the request.
	// StatusCode maps it to 502.
	ErrRevocation = errors.New("logout: token revocation failed")
	// ErrUnknownProvider means an issuer is not one of the configured
	// providers (or Config.LookupProvider returned a provider of another
	// issuer, or an invalid one). A logout of a session whose issuer is
	// unknown is no error: it is local.
	ErrUnknownProvider = errors.New("logout: unknown provider")
	// ErrFrontChannelRequest means a front-channel logout request was not a
	// GET with exactly one iss, a provider's Issuer (give or take a
	// trailing slash), and exactly one non-empty sid. StatusCode maps it to
	// 400.
	ErrFrontChannelRequest = errors.New("logout: invalid front-channel logout request")
	// ErrLedgerFull means a MemoryLedger configured with RefuseWhenFull holds
	// as many unexpired records as it may, so a new record was refused rather
	// than an older one forgotten.
	ErrLedgerFull = errors.New("logout: ledger is full")
	// ErrLedger means the Ledger failed while a front-channel logout was
	// being recorded. StatusCode maps it to 503, so that the provider may
	// try again.
	ErrLedger = errors.New("logout: ledger unavailable")
)

// errorResponses gives, for each sentinel error, the status and the public
// message of DefaultErrorHandler, and the level the failure is logged at:
// a refused request is the client's doing (INFO for what browsers do on
// their own, WARN for what may be an attack), a failure of the app or the
// provider is an ERROR. The first match wins: a revocation error that
// also wraps ErrDiscovery still tells the user they are signed in.
var errorResponses = []errorResponse{
	{ErrCrossSiteNavigation, http.StatusOK, slog.LevelInfo, ""}, // the confirmation page
	{ErrCrossSite, http.StatusForbidden, slog.LevelWarn, "cross-site logout request refused"},
	{ErrMethodNotAllowed, http.StatusMethodNotAllowed, slog.LevelInfo, "method not allowed"},
	{ErrPrefetch, http.StatusServiceUnavailable, slog.LevelInfo, "logout is not prefetched; open the link to log out"},
	{ErrFrontChannelRequest, http.StatusBadRequest, slog.LevelWarn, "invalid front-channel logout request"},
	{ErrRevocation, http.StatusBadGateway, slog.LevelError, "identity provider could not revoke your tokens; you are still signed in, please try again"},
	{ErrTombstone, http.StatusServiceUnavailable, slog.LevelError, "logout could not be completed; you are still signed in, please try again"},
	{ErrLedger, http.StatusServiceUnavailable, slog.LevelError, "service unavailable, please try again"},
	{ErrDiscovery, http.StatusBadGateway, slog.LevelError, "identity provider unavailable; you are signed out of this site"},
	{ErrNoEndSessionEndpoint, http.StatusBadGateway, slog.LevelError, "identity provider unavailable; you are signed out of this site"},
}

// errorResponse is how a failure is answered and logged.
type errorResponse struct {
	err    error
	status int
	level  slog.Level
	msg    string
}

// internalError answers every error that wraps none of errorResponses.
var internalError = errorResponse{status: http.StatusInternalServerError, level: slog.LevelError,
	msg: http.StatusText(http.StatusInternalServerError)}

// prefix starts every message of the package's errors, once.
const prefix = "logout: "

// unprefixed returns err for use inside another message of the package:
// the same error, without its "logout: " prefix, so that a message says
// it once.
func unprefixed(err error) error {
	if msg := err.Error(); strings.HasPrefix(msg, prefix) {
		return &innerError{msg: msg[len(prefix):], err: err}
	}
	return err
}

// innerError is an error whose message is another's without its prefix.
type innerError struct {
	msg string
	err error
}

func (e *innerError) Error() string { return e.msg }
func (e *innerError) Unwrap() error { return e.err }

// responseFor returns how err is answered and logged.
func responseFor(err error) errorResponse {
	for _, r := range errorResponses {
		if errors.Is(err, r.err) {
			return r
		}
	}
	return internalError
}

// DefaultErrorHandler is the ErrorHandler used when Config.ErrorHandler is
// nil. It answers with the status StatusCode gives for err and a short
// plain-text message. It never writes err's text, which may carry details
// meant for logs only.
func DefaultErrorHandler(w http.ResponseWriter, _ *http.Request, err error) {
	resp := responseFor(err)
	if resp.err == ErrCrossSiteNavigation {
		writeConfirmationPage(w)
		return
	}
	http.Error(w, resp.msg, resp.status)
}

// confirmationPage asks the user who followed a link to the logout path
// from another site to confirm. Its form posts to the page's own URL (the
// logout path, with its query: the return target), from the app's origin,
// so the post passes the cross-site check. It holds nothing of the
// session, and no script.
const confirmationPage = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>Sign out?</title></head>
<body><form method="post"><p>Do you want to sign out?</p><button type="submit">Sign out</button></form></body></html>
`

// writeConfirmationPage answers with confirmationPage, which no other
// site may frame, and which the browser must not keep.
func writeConfirmationPage(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	_, _ = io.WriteString(w, confirmationPage)
}

// StatusCode returns the HTTP status that DefaultErrorHandler uses for err:
// 200 for ErrCrossSiteNavigation (the confirmation page), 403 for
// ErrCrossSite, 405 for ErrMethodNotAllowed, 503 for ErrPrefetch,
// ErrTombstone and ErrLedger, 400 for ErrFrontChannelRequest,
// 502 for ErrRevocation, ErrDiscovery and ErrNoEndSessionEndpoint, and 500
// for anything else.
func StatusCode(err error) int {
	return responseFor(err).status
}
