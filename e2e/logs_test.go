package e2e

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
)

// logRecorder is a slog.Handler that keeps the records at Warn and above,
// so that a test can check that a flow which should succeed logged no
// failure (a refused token revocation, a failed discovery, ...).
type logRecorder struct {
	mu      sync.Mutex
	records []string
}

// Enabled reports whether level is recorded: Warn and above.
func (r *logRecorder) Enabled(_ context.Context, level slog.Level) bool {
	return level >= slog.LevelWarn
}

// Handle records rec as "LEVEL message key=value ...".
func (r *logRecorder) Handle(_ context.Context, rec slog.Record) error {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s", rec.Level, rec.Message)
	rec.Attrs(func(a slog.Attr) bool {
		fmt.Fprintf(&b, " %s=%v", a.Key, a.Value)
		return true
	})
	r.mu.Lock()
	defer r.mu.Unlock()
	r.records = append(r.records, b.String())
	return nil
}

// WithAttrs returns r: the recorder keeps no handler attributes.
func (r *logRecorder) WithAttrs([]slog.Attr) slog.Handler { return r }

// WithGroup returns r: the recorder keeps no groups.
func (r *logRecorder) WithGroup(string) slog.Handler { return r }

// take returns the records so far and forgets them.
func (r *logRecorder) take() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	got := r.records
	r.records = nil
	return got
}
