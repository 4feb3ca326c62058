package lifecycle

import (
	"math"
	"unsafe"
)

// A Conn's three lists (its read checks, OnClose hooks and values) are
// short, made at the upgrade and seldom changed afterwards. Each is kept as
// a pointer to its first element, with the three lengths side by side
// (connLists): 32 bytes where three slices take 72. A change copies a
// list into an array of its new length, so that none keeps room it does
// not use.
type connLists struct {
	checks  *ReadCheck
	hooks   *func(*Conn, CloseInfo)
	values  *keyValue
	nChecks uint16
	nHooks  uint16
	nValues uint16
}

// listOf returns the list of n elements that starts at p.
func listOf[T any](p *T, n uint16) []T { return unsafe.Slice(p, n) }

// withOne returns a copy of list with v added, as its first element and
// its length.
func withOne[T any](list []T, v T) (*T, uint16) {
	if len(list) >= math.MaxUint16 {
		panic("wsmw: too many read checks, hooks or values on one connection")
	}
	l := make([]T, len(list)+1)
	copy(l, list)
	l[len(list)] = v
	return &l[0], uint16(len(l))
}

// keep returns list as its first element and its length, without copying
// it: the caller must not change it afterwards.
func keep[T any](list []T) (*T, uint16) {
	if len(list) > math.MaxUint16 {
		panic("wsmw: too many read checks, hooks or values on one connection")
	}
	return unsafe.SliceData(list), uint16(len(list))
}

func (l *connLists) checkList() []ReadCheck             { return listOf(l.checks, l.nChecks) }
func (l *connLists) hookList() []func(*Conn, CloseInfo) { return listOf(l.hooks, l.nHooks) }
func (l *connLists) valueList() []keyValue              { return listOf(l.values, l.nValues) }
