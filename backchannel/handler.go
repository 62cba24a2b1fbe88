package backchannel

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/oidc-logout/logout"
)

// Defaults.
const (
	defaultMaxAge        = 5 * time.Minute
	defaultSkew          = time.Minute
	defaultRevocationTTL = 30 * 24 * time.Hour
	defaultHTTPTimeout   = 10 * time.Second
	defaultMinRefresh    = 10 * time.Second
	maxBodyBytes         = 64 << 10
)

// ErrInvalidConfig is wrapped by every error New returns.
var ErrInvalidConfig = errors.New("backchannel: invalid config")

// ErrReplay means a logout token's jti was seen before.
var ErrReplay = fmt.Errorf("%w: jti was already used", ErrInvalidToken)

// Config configures a Handler. Issuer, ClientID and Revocations are
// required.
type Config struct {
	// Issuer is the provider's issuer, compared exactly with the token's
	// iss. It is also used to discover jwks_uri.
	Issuer string
	// ClientID is the app's client_id, which the token's aud must contain.
	ClientID string
	// JWKSURI is the provider's JWKS URL. Default: jwks_uri from
	// {Issuer}/.well-known/openid-configuration, read at the first request.
	JWKSURI string
	// Revocations records the ended sessions; give the same store to the
	// middleware's session check. It also records used jti values.
	Revocations logout.Revocations

	// Algorithms are the accepted signature algorithms. Default
	// DefaultAlgorithms. "none" and HMAC algorithms are refused.
	Algorithms []jose.SignatureAlgorithm
	// MaxAge is how old a token's iat may be. Default 5 minutes.
	MaxAge time.Duration
	// ClockSkew is the tolerance for iat in the future and for exp.
	// Default 1 minute.
	ClockSkew time.Duration
	// RequireExp refuses tokens without exp. Back-Channel Logout 1.0
	// requires exp, but some providers still omit it, so by default exp is
	// checked only when present.
	RequireExp bool
	// RevocationTTL is how long a revocation is kept: at least as long as
	// the app's sessions live. Default 30 days.
	RevocationTTL time.Duration

	// HTTPClient fetches discovery and JWKS. Default: a client with
	// HTTPTimeout.
	HTTPClient *http.Client
	// HTTPTimeout bounds each fetch. Default 10 seconds.
	HTTPTimeout time.Duration
	// MinKeyRefresh is the least time between two JWKS fetches caused by
	// tokens naming an unknown kid. Default 10 seconds.
	MinKeyRefresh time.Duration

	// OnLogout, when set, is called after a logout was recorded.
	OnLogout func(ctx context.Context, t *LogoutToken)
	// Logger receives a record per request. Tokens are never logged.
	// Default: no logging.
	Logger *slog.Logger
	// Now returns the current time. Default time.Now.
	Now func() time.Time
}

// Handler receives back-channel logout requests. Create it with New and
// mount it at the back-channel logout URI registered at the provider. It is
// safe for concurrent use.
type Handler struct {
	issuer, clientID string
	algs             []jose.SignatureAlgorithm
	maxAge, skew     time.Duration
	requireExp       bool
	ttl              time.Duration
	store            logout.Revocations
	keys             *keySource
	onLogout         func(context.Context, *LogoutToken)
	logger           *slog.Logger
	now              func() time.Time

	jtiMu sync.Mutex // makes check-then-record of a jti atomic in this process
}

// New validates cfg and returns a Handler. It does no network I/O.
func New(cfg Config) (*Handler, error) {
	h, err := newHandler(cfg)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	return h, nil
}

func newHandler(cfg Config) (*Handler, error) {
	if cfg.Issuer == "" || cfg.ClientID == "" || cfg.Revocations == nil {
		return nil, errors.New("Config.Issuer, Config.ClientID and Config.Revocations are required")
	}
	if u, err := url.Parse(cfg.Issuer); err != nil || !u.IsAbs() || u.Host == "" {
		return nil, fmt.Errorf("Config.Issuer %q is not an absolute URL", cfg.Issuer)
	}
	algs, err := checkAlgorithms(cfg.Algorithms)
	if err != nil {
		return nil, err
	}
	h := &Handler{
		issuer: cfg.Issuer, clientID: cfg.ClientID, algs: algs,
		maxAge: orDuration(cfg.MaxAge, defaultMaxAge), skew: orDuration(cfg.ClockSkew, defaultSkew),
		requireExp: cfg.RequireExp, ttl: orDuration(cfg.RevocationTTL, defaultRevocationTTL),
		store: cfg.Revocations, onLogout: cfg.OnLogout, logger: cfg.Logger, now: cfg.Now,
	}
	if h.logger == nil {
		h.logger = slog.New(slog.DiscardHandler)
	}
	if h.now == nil {
		h.now = time.Now
	}
	timeout := orDuration(cfg.HTTPTimeout, defaultHTTPTimeout)
	client := cfg.HTTPClient
	if client == nil {
		client = &http.Client{Timeout: timeout}
	}
	h.keys = &keySource{
		issuer: cfg.Issuer, jwksURI: cfg.JWKSURI, client: client, timeout: timeout,
		minRefresh: orDuration(cfg.MinKeyRefresh, defaultMinRefresh), now: h.now,
	}
	return h, nil
}

func orDuration(v, def time.Duration) time.Duration {
	if v <= 0 {
		return def
	}
	return v
}

// checkAlgorithms refuses "none" and symmetric algorithms.
func checkAlgorithms(algs []jose.SignatureAlgorithm) ([]jose.SignatureAlgorithm, error) {
	if len(algs) == 0 {
		return DefaultAlgorithms, nil
	}
	for _, a := range algs {
		switch a {
		case jose.HS256, jose.HS384, jose.HS512, "none", "":
			return nil, fmt.Errorf("Config.Algorithms: %q is not allowed for logout tokens", a)
		}
	}
	return algs, nil
}

// ServeHTTP handles a back-channel logout request: 200 when the logout was
// recorded, 400 with a JSON error for an invalid request or token, 501
// when the logout could not be recorded (the revocation store failed), 502
// when the provider's keys could not be fetched.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-cache, no-store")
	w.Header().Set("Pragma", "no-cache")
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		h.respondError(w, r, http.StatusMethodNotAllowed, "invalid_request", "use POST")
		return
	}
	raw, err := readLogoutToken(w, r)
	if err != nil {
		h.respondError(w, r, http.StatusBadRequest, "invalid_request", err.Error())
		return
	}
	t, err := h.Verify(r.Context(), raw)
	if err == nil {
		err = h.record(r.Context(), t)
	}
	switch {
	case err == nil:
		h.logger.LogAttrs(r.Context(), slog.LevelInfo, "backchannel: logout recorded",
			slog.Bool("sid", t.SID != ""), slog.Bool("sub", t.Subject != ""))
		if h.onLogout != nil {
			h.onLogout(r.Context(), t)
		}
		w.WriteHeader(http.StatusOK)
	case errors.Is(err, ErrInvalidToken):
		h.respondError(w, r, http.StatusBadRequest, "invalid_request", err.Error())
	case errors.Is(err, ErrKeys):
		h.respondError(w, r, http.StatusBadGateway, "temporarily_unavailable", "the provider's keys could not be fetched")
	default:
		h.logger.LogAttrs(r.Context(), slog.LevelError, "backchannel: revocation store failed",
			slog.String("error", err.Error()))
		h.respondError(w, r, http.StatusNotImplemented, "server_error", "the logout could not be recorded")
	}
}

// readLogoutToken reads the logout_token of a form-encoded body.
func readLogoutToken(w http.ResponseWriter, r *http.Request) (string, error) {
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if ct != "application/x-www-form-urlencoded" {
		return "", errors.New("the body must be application/x-www-form-urlencoded")
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxBodyBytes)
	if err := r.ParseForm(); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return "", fmt.Errorf("the body is larger than %d bytes", maxBodyBytes)
		}
		return "", errors.New("the body is not a valid form")
	}
	vs := r.PostForm["logout_token"]
	if len(vs) != 1 || vs[0] == "" {
		return "", errors.New("exactly one logout_token is required")
	}
	return vs[0], nil
}

// record refuses a replayed jti, then records the logout: the sid when
// present (that session only, section 2.7), otherwise every session of
// sub begun at or before the token's iat. The jti is recorded last, so
// that a provider retrying after a store failure is not refused as a
// replay.
func (h *Handler) record(ctx context.Context, t *LogoutToken) error {
	h.jtiMu.Lock()
	defer h.jtiMu.Unlock()
	jtiKey := JTIKey(t.Issuer, t.JTI)
	seen, err := h.store.Revoked(ctx, logout.RevocationCheck{Key: jtiKey})
	if err != nil {
		return fmt.Errorf("backchannel: checking jti: %w", err)
	}
	if seen {
		return ErrReplay
	}
	key := logout.SubjectKey(t.Issuer, t.Subject)
	if t.SID != "" {
		key = logout.SIDKey(t.Issuer, t.SID)
	}
	if err := h.store.Revoke(ctx, key, t.IssuedAt, h.ttl); err != nil {
		return fmt.Errorf("backchannel: recording the logout: %w", err)
	}
	// A replay outside the iat window is refused by the iat check.
	if err := h.store.Revoke(ctx, jtiKey, t.IssuedAt, h.maxAge+2*h.skew); err != nil {
		return fmt.Errorf("backchannel: recording jti: %w", err)
	}
	return nil
}

// JTIKey returns the Revocations key under which a used jti is recorded.
func JTIKey(issuer, jti string) string {
	return "jti:" + strconv.Itoa(len(issuer)) + ":" + issuer + ":" + jti
}

// respondError writes a JSON error (section 2.8) and logs it.
func (h *Handler) respondError(w http.ResponseWriter, r *http.Request, status int, code, desc string) {
	level := slog.LevelWarn
	if status >= http.StatusInternalServerError {
		level = slog.LevelError
	}
	h.logger.LogAttrs(r.Context(), level, "backchannel: logout refused",
		slog.Int("status", status), slog.String("error", desc))
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(struct {
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}{code, desc})
}
