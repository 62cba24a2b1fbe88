package backchannel

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"mime"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/oidc-logout/logout"
)

// Defaults.
const (
	defaultMaxAge          = 5 * time.Minute
	defaultSkew            = time.Minute
	defaultEndedSessionTTL = 30 * 24 * time.Hour
	defaultHTTPTimeout     = 10 * time.Second
	defaultMinRefresh      = 10 * time.Second
	maxBodyBytes           = 64 << 10
)

// ErrInvalidConfig is wrapped by every error New returns.
var ErrInvalidConfig = errors.New("backchannel: invalid config")

// ErrReplay means a logout token's jti was seen before.
var ErrReplay = fmt.Errorf("%w: jti was already used", ErrInvalidToken)

// Config configures a Handler. Ledger is required. The providers (their
// issuers, client_ids, keys' jwks_uri, signing algorithms and client
// secrets) are the logout.Middleware's: see New.
type Config struct {
	// Ledger records the ended sessions: the same store as the
	// middleware's SessionCheck.Ledger, which signs those sessions out.
	// It also records used jti values. Required.
	Ledger logout.Ledger
	// MaxAge is how old a token's iat may be. Default 5 minutes.
	MaxAge time.Duration
	// ClockSkew is the tolerance for iat in the future and for exp.
	// Default 1 minute.
	ClockSkew time.Duration
	// RequireExp refuses tokens without exp. Back-Channel Logout 1.0
	// requires exp, but some providers still omit it, so by default exp is
	// checked only when present.
	RequireExp bool
	// EndedSessionTTL is how long an ended session is kept in the Ledger:
	// at least as long as the app's sessions live. Default 30 days.
	EndedSessionTTL time.Duration

	// HTTPClient fetches the providers' JWKS (the middleware's
	// Config.HTTPClient fetches their discovery documents). Each fetch is
	// bounded by its Timeout, or by 10 seconds when it has none. Default:
	// a client with a 10-second timeout.
	HTTPClient *http.Client
	// MinKeyRefresh is the least time between two JWKS fetches caused by
	// tokens naming an unknown kid, or by tokens coming while the
	// refresh of an hour-old set fails. Default 10 seconds.
	MinKeyRefresh time.Duration

	// OnLogout, when set, is called after a logout was recorded.
	OnLogout func(ctx context.Context, t *LogoutToken)
	// Logger receives a record per request. Tokens are never logged.
	// Default: no logging.
	Logger *slog.Logger
}

// Handler receives back-channel logout requests. Create it with New and
// mount it at the back-channel logout URI registered at the provider. It is
// safe for concurrent use.
type Handler struct {
	mw           *logout.Middleware
	providers    *verifierSet
	maxAge, skew time.Duration
	requireExp   bool
	ttl          time.Duration
	store        logout.Ledger
	onLogout     func(context.Context, *LogoutToken)
	logger       *slog.Logger
	now          func() time.Time

	jtiMu sync.Mutex // makes check-then-record of a jti atomic in this process
}

// parseAlgs are the algorithms a logout token's header may name: any a
// provider may sign with. Each token is then held to its provider's
// logout.Provider.SigningAlgorithms.
var parseAlgs = append(slices.Clone(asymmetricAlgorithms), jose.HS256, jose.HS384, jose.HS512)

// New validates cfg and returns a Handler for the providers of m: each
// logout token is verified with the keys (jwks_uri), signing algorithms,
// client secret and client_id of the provider m.Discover finds for its
// iss (read before the signature is checked, to pick the keys that check
// it), configured in m's Config.Providers or found by its
// Config.LookupProvider; a token naming another issuer is refused, so
// that one provider's key cannot end a session of another's. The iss
// must be the provider's issuer, one trailing slash aside, as the
// middleware compares issuers. New does no network I/O.
func New(m *logout.Middleware, cfg Config) (*Handler, error) {
	h, err := newHandler(m, cfg)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	return h, nil
}

func newHandler(m *logout.Middleware, cfg Config) (*Handler, error) {
	if m == nil {
		return nil, errors.New("a logout.Middleware is required")
	}
	if cfg.Ledger == nil {
		return nil, errors.New("Config.Ledger is required")
	}
	h := &Handler{
		mw:     m,
		maxAge: orDuration(cfg.MaxAge, defaultMaxAge), skew: orDuration(cfg.ClockSkew, defaultSkew),
		requireExp: cfg.RequireExp, ttl: orDuration(cfg.EndedSessionTTL, defaultEndedSessionTTL),
		store: cfg.Ledger, onLogout: cfg.OnLogout, logger: cfg.Logger, now: time.Now,
	}
	if h.logger == nil {
		h.logger = slog.New(slog.DiscardHandler)
	}
	timeout, client := defaultHTTPTimeout, cfg.HTTPClient
	switch {
	case client == nil:
		client = &http.Client{Timeout: timeout}
	case client.Timeout > 0:
		timeout = client.Timeout
	}
	// The keys' clock is the handler's, which tests may set after New.
	kc := keyConfig{
		client: client, timeout: timeout, minRefresh: orDuration(cfg.MinKeyRefresh, defaultMinRefresh),
		now: func() time.Time { return h.now() },
	}
	h.providers = newVerifierSet(kc)
	return h, nil
}

func orDuration(v, def time.Duration) time.Duration {
	if v <= 0 {
		return def
	}
	return v
}

// hmacKeyBytes is the least key length of each HMAC algorithm (RFC 7518,
// section 3.2: at least the size of the hash output).
var hmacKeyBytes = map[jose.SignatureAlgorithm]int{jose.HS256: 32, jose.HS384: 48, jose.HS512: 64}

// asymmetricAlgorithms are the other algorithms a logout token may use;
// their keys come from the provider's JWKS.
var asymmetricAlgorithms = []jose.SignatureAlgorithm{
	jose.RS256, jose.RS384, jose.RS512,
	jose.PS256, jose.PS384, jose.PS512,
	jose.ES256, jose.ES384, jose.ES512,
	jose.EdDSA,
}

// checkAlgorithms returns the accepted algorithms (a copy of algs, or of
// DefaultAlgorithms when algs is empty) and the HMAC key: the client
// secret when an HMAC algorithm is accepted, nil otherwise. It refuses
// "none", unknown names, and HMAC algorithms without a client secret
// long enough for them.
func checkAlgorithms(algs []jose.SignatureAlgorithm, secret string) ([]jose.SignatureAlgorithm, []byte, error) {
	if len(algs) == 0 {
		algs = DefaultAlgorithms
	}
	algs = slices.Clone(algs)
	var hmacKey []byte
	for _, a := range algs {
		if minLen, ok := hmacKeyBytes[a]; ok {
			switch {
			case secret == "":
				return nil, nil, fmt.Errorf("SigningAlgorithms: %s needs the ClientSecret, its only key", a)
			case len(secret) < minLen:
				return nil, nil, fmt.Errorf("the ClientSecret is shorter than the %d bytes %s needs (RFC 7518, section 3.2)", minLen, a)
			}
			hmacKey = []byte(secret)
			continue
		}
		if !slices.Contains(asymmetricAlgorithms, a) {
			return nil, nil, fmt.Errorf("SigningAlgorithms: %q is not allowed for logout tokens", a)
		}
	}
	return algs, hmacKey, nil
}

// ServeHTTP handles a back-channel logout request: 200 when the logout was
// recorded, 400 with a JSON error for an invalid request or token, 502
// when the provider's keys could not be fetched, and, when the logout
// could not be recorded, 503 if the ledger is full
// (logout.ErrLedgerFull) or did not answer in time, 500 for any other
// store failure. After a 5xx the jti is not recorded, so the provider may
// send the token again.
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
		h.logger.LogAttrs(r.Context(), slog.LevelError, "backchannel: ledger failed",
			slog.String("error", err.Error()))
		if storeUnavailable(err) {
			h.respondError(w, r, http.StatusServiceUnavailable, "temporarily_unavailable", "the logout could not be recorded; try again later")
			return
		}
		h.respondError(w, r, http.StatusInternalServerError, "server_error", "the logout could not be recorded")
	}
}

// storeUnavailable reports whether a store error is a passing condition
// (the store is full, or did not answer in time) rather than a fault.
func storeUnavailable(err error) bool {
	return errors.Is(err, logout.ErrLedgerFull) ||
		errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled)
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

// OnceRecorder is a logout.Ledger that can record a back-channel logout
// and its jti in one step: it records key (time at, kept for ttl) and
// once (kept for onceTTL) unless once is already recorded, and reports
// whether it recorded them. When a failure leaves once unrecorded, the
// provider's retry of the token is not refused as a replay.
//
// The handler uses it when Config.Ledger implements it, instead of a
// Seen and two Records: redisstore.Ledger does, in one round trip to a
// single Redis server, atomically across every instance of the app.
type OnceRecorder interface {
	RecordOnce(ctx context.Context, once string, onceTTL time.Duration, key string, at time.Time, ttl time.Duration) (recorded bool, err error)
}

// record refuses a replayed jti, then records the logout: the sid when
// present (that session only, section 2.7), otherwise every session of
// sub begun at or before the token's iat. The jti is recorded last, so
// that a provider retrying after a store failure is not refused as a
// replay.
func (h *Handler) record(ctx context.Context, t *LogoutToken) error {
	jtiKey := logout.JTIKey(t.Issuer, t.JTI)
	key := logout.SubjectKey(t.Issuer, t.Subject)
	if t.SID != "" {
		key = logout.SIDKey(t.Issuer, t.SID)
	}
	// A replay outside the iat window is refused by the iat check.
	jtiTTL := h.maxAge + 2*h.skew
	if once, ok := h.store.(OnceRecorder); ok {
		recorded, err := once.RecordOnce(ctx, jtiKey, jtiTTL, key, t.IssuedAt, h.ttl)
		switch {
		case err != nil:
			return fmt.Errorf("backchannel: recording the logout: %w", err)
		case !recorded:
			return ErrReplay
		}
		return nil
	}
	h.jtiMu.Lock()
	defer h.jtiMu.Unlock()
	seen, err := h.store.Seen(ctx, logout.LedgerQuery{Key: jtiKey})
	if err != nil {
		return fmt.Errorf("backchannel: checking jti: %w", err)
	}
	if seen {
		return ErrReplay
	}
	if err := h.store.Record(ctx, key, t.IssuedAt, h.ttl); err != nil {
		return fmt.Errorf("backchannel: recording the logout: %w", err)
	}
	if err := h.store.Record(ctx, jtiKey, t.IssuedAt, jtiTTL); err != nil {
		return fmt.Errorf("backchannel: recording jti: %w", err)
	}
	return nil
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
