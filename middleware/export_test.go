package middleware

// MatchOrigin is the Origin rule, for the tests and fuzz targets of
// package middleware_test.
var MatchOrigin = matchOrigin
