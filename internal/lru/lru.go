// Package lru is a bounded map that drops its least recently used entry
// to make room: the core module's looked-up providers. It is not safe for
// concurrent use: callers hold their own lock, so that a look-up and the
// update it leads to are one step.
package lru

import "container/list"

// Cache maps keys to values and holds at most its size of them.
type Cache[K comparable, V any] struct {
	size  int
	order *list.List // of entry[K, V], most recently used first
	items map[K]*list.Element
}

type entry[K comparable, V any] struct {
	key   K
	value V
}

// New returns an empty Cache of at most size entries.
func New[K comparable, V any](size int) *Cache[K, V] {
	return &Cache[K, V]{size: size, order: list.New(), items: make(map[K]*list.Element)}
}

// Get returns the value of key, and marks it as the most recently used.
func (c *Cache[K, V]) Get(key K) (V, bool) {
	e, ok := c.items[key]
	if !ok {
		var zero V
		return zero, false
	}
	c.order.MoveToFront(e)
	return e.Value.(entry[K, V]).value, true
}

// Put sets the value of key, as the most recently used, and drops the
// least recently used entries beyond the size.
func (c *Cache[K, V]) Put(key K, value V) {
	if e, ok := c.items[key]; ok {
		e.Value = entry[K, V]{key, value}
		c.order.MoveToFront(e)
		return
	}
	c.items[key] = c.order.PushFront(entry[K, V]{key, value})
	for c.order.Len() > c.size {
		last := c.order.Back()
		c.order.Remove(last)
		delete(c.items, last.Value.(entry[K, V]).key)
	}
}

// Remove drops the entry of key, if any.
func (c *Cache[K, V]) Remove(key K) {
	if e, ok := c.items[key]; ok {
		c.order.Remove(e)
		delete(c.items, key)
	}
}

// Len returns the number of entries.
func (c *Cache[K, V]) Len() int { return c.order.Len() }
