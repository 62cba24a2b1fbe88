package redisstore

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestLookupError: a look-up's error is sorted by what it wraps, not by
// its text. An error that already says what failed (it wraps
// ErrLedgerRead or ErrBadRecord), also inside the bound's deadline, is
// returned as it is; any other, the bound's deadline or an error whose
// text merely begins with "redisstore:", is wrapped in ErrLedgerRead.
func TestLookupError(t *testing.T) {
	read := fmt.Errorf("%w: %w", ErrLedgerRead, errors.New("connection reset"))
	_, bad := parseRecord("k", "soon")
	lookalike := errors.New("redisstore: from another component")
	for _, tc := range []struct {
		name string
		err  error
		want string
		is   []error
	}{
		{"a failed read", read, "redisstore: reading the ledger: connection reset", []error{ErrLedgerRead}},
		{"a bad record", bad, `redisstore: bad record: key "k" holds "soon", not a time: strconv.ParseInt: parsing "soon": invalid syntax`,
			[]error{ErrBadRecord, strconv.ErrSyntax}},
		{"a failed read past the deadline", contextError{err: read, ctx: context.DeadlineExceeded},
			"redisstore: reading the ledger: connection reset", []error{ErrLedgerRead, context.DeadlineExceeded}},
		{"the bound's deadline", context.DeadlineExceeded,
			"redisstore: reading the ledger: context deadline exceeded", []error{ErrLedgerRead, context.DeadlineExceeded}},
		{"a lookalike", lookalike,
			"redisstore: reading the ledger: redisstore: from another component", []error{ErrLedgerRead, lookalike}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := lookupError(tc.err)
			assert.EqualError(t, got, tc.want)
			for _, target := range tc.is {
				assert.ErrorIs(t, got, target)
			}
			assert.Equal(t, got, lookupError(got), "sorted once, it stays as it is")
		})
	}
}
