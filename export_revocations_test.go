package logout

// MemoryHeapLen exposes the size of a MemoryRevocations' expiry heap to
// the external tests.
func MemoryHeapLen(m *MemoryRevocations) int {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return len(m.expiry)
}
