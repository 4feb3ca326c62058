//go:build race

package evpoll

const raceEnabled = true
