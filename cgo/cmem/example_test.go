package cmem_test

import (
	"fmt"
	"os"

	"github.com/aiokit/aio/cgo/cmem"
)

// Example allocates a buffer in C memory aligned for O_DIRECT on a file of
// this machine and frees it; a second Free is an error, not a crash.
func Example() {
	f, err := os.CreateTemp("", "cmem-example")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.Remove(f.Name())
	defer f.Close()

	memAlign, offAlign, err := cmem.DirectIOAlign(int(f.Fd()))
	if err != nil {
		fmt.Println(err)
		return
	}
	buf, err := cmem.Alloc(64<<10, int(max(memAlign, 4096)))
	if err != nil {
		fmt.Println(err)
		return
	}
	b := buf.Bytes()
	fmt.Println(len(b), offAlign > 0)
	fmt.Println(buf.Free(), buf.Free() != nil)
	// Output:
	// 65536 true
	// <nil> true
}
