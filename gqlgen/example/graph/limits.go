package graph

// Bounds of ticks' everyMs argument, in milliseconds.
const (
	MinTickMs = 10
	MaxTickMs = 60 * 60 * 1000
)
