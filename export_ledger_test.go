package logout

// MemoryHeapLen exposes the size of a MemoryLedger' expiry heap to
// the external tests.
func MemoryHeapLen(m *MemoryLedger) int {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return len(m.expiry)
}
