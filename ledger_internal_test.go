package logout

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestChunksFreeAChunkWhenTwoAreUnused pins when a chunk of the heap is
// freed: once the last two chunks hold no record, so that a store
// hovering at a chunk's boundary does not allocate and free one over and
// over.
func TestChunksFreeAChunkWhenTwoAreUnused(t *testing.T) {
	var h chunks
	size := 1 << chunkBits
	for range 3 * size {
		h.push(&memRecord{})
	}
	require.Len(t, h.c, 3)
	for h.len() > size+1 {
		h.pop()
	}
	assert.Len(t, h.c, 3, "%d records", h.len())
	h.pop()
	assert.Len(t, h.c, 2, "%d records: one chunk in use, one spare", h.len())
	for h.len() > 0 {
		h.pop()
	}
	assert.Len(t, h.c, 1, "empty: one chunk kept")
	h.push(&memRecord{key: "k"})
	assert.Equal(t, "k", h.at(0).key)
}
