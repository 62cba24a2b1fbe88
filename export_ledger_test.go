package logout

// MemoryHeapLen exposes the size of a MemoryLedger's expiry heap to
// the external tests.
func MemoryHeapLen(m *MemoryLedger) int {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.expiry.len()
}

// MemoryExpireBatch is how many expired records one Record call drops at
// most.
const MemoryExpireBatch = expireBatch

// MemoryHeapChunks is how many chunks a MemoryLedger's expiry heap holds.
func MemoryHeapChunks(m *MemoryLedger) int {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return len(m.expiry.c)
}

// MemoryHeapChunkSize is how many records one chunk of the heap holds.
const MemoryHeapChunkSize = 1 << chunkBits
