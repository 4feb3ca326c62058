// Package otel records OpenTelemetry traces and metrics of wsmw's
// WebSocket connections.
package otel
