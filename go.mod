module github.com/aiokit/aio

go 1.22.12

require (
	github.com/google/go-cmp v0.7.0
	github.com/iceber/iouring-go v0.0.0-20230403020409-002cfd2e2a90
	golang.org/x/sys v0.30.0
)
