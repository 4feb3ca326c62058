package auth

// Extract finds a request's token as the policy does, for the tests and
// fuzz targets of package auth_test.
var Extract = extract
