package lru

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestCacheDropsTheLeastRecentlyUsed(t *testing.T) {
	c := New[string, int](2)
	c.Put("a", 1)
	c.Put("b", 2)
	v, ok := c.Get("a") // a is now the most recently used
	assert.True(t, ok)
	assert.Equal(t, 1, v)
	c.Put("c", 3)
	_, ok = c.Get("b")
	assert.False(t, ok, "b was the least recently used")
	for key, want := range map[string]int{"a": 1, "c": 3} {
		got, ok := c.Get(key)
		assert.True(t, ok, key)
		assert.Equal(t, want, got, key)
	}
	assert.Equal(t, 2, c.Len())
}

func TestCachePutReplaces(t *testing.T) {
	c := New[string, int](2)
	c.Put("a", 1)
	c.Put("b", 2)
	c.Put("a", 10) // replaces, and makes a the most recently used
	c.Put("c", 3)
	v, ok := c.Get("a")
	assert.True(t, ok)
	assert.Equal(t, 10, v)
	_, ok = c.Get("b")
	assert.False(t, ok)
	assert.Equal(t, 2, c.Len())
}

func TestCacheRemove(t *testing.T) {
	c := New[string, int](2)
	c.Put("a", 1)
	c.Remove("a")
	c.Remove("absent")
	_, ok := c.Get("a")
	assert.False(t, ok)
	assert.Zero(t, c.Len())
}
