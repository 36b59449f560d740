package libaio

import (
	"reflect"
	"testing"
	"unsafe"
)

// goFields lists a Go struct's fields as (name, offset, size).
func goFields(v any) map[string]fieldLayout {
	t := reflect.TypeOf(v)
	m := make(map[string]fieldLayout)
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		m[f.Name] = fieldLayout{f.Name, f.Offset, f.Type.Size()}
	}
	return m
}

func checkFields(t *testing.T, what string, c []fieldLayout, goNames map[string]string, g map[string]fieldLayout) {
	t.Helper()
	if len(c) == 0 {
		t.Fatalf("%s: no C fields", what)
	}
	for _, f := range c {
		name, ok := goNames[f.Name]
		if !ok {
			t.Errorf("%s: C field %s has no Go counterpart in the test's map", what, f.Name)
			continue
		}
		gf, ok := g[name]
		if !ok {
			t.Errorf("%s: Go field %s missing", what, name)
			continue
		}
		// u.poll.events is an int in the low half of Buf (little endian).
		if f.Name == "u.poll.events" {
			if f.Off != gf.Off || f.Size != 4 {
				t.Errorf("%s: %s at %d size %d, Go %s at %d", what, f.Name, f.Off, f.Size, name, gf.Off)
			}
			continue
		}
		if f.Off != gf.Off || f.Size != gf.Size {
			t.Errorf("%s: C %s at %d size %d, Go %s at %d size %d", what, f.Name, f.Off, f.Size, name, gf.Off, gf.Size)
		}
	}
}

func TestIocbLayout(t *testing.T) {
	iocb, _, kiocb, sizes, _, _ := cLayouts()
	if uintptr(SizeofIocb) != sizes[0] || uintptr(SizeofIocb) != sizes[2] {
		t.Fatalf("sizeof: Go %d, libaio.h %d, linux/aio_abi.h %d", SizeofIocb, sizes[0], sizes[2])
	}
	g := goFields(Iocb{})
	checkFields(t, "libaio.h struct iocb", iocb, map[string]string{
		"data": "Data", "key": "Key", "aio_rw_flags": "RWFlags", "aio_lio_opcode": "Opcode",
		"aio_reqprio": "ReqPrio", "aio_fildes": "Fildes", "u.c.buf": "Buf", "u.c.nbytes": "Nbytes",
		"u.c.offset": "Offset", "u.c.__pad3": "Pad3", "u.c.flags": "Flags", "u.c.resfd": "ResFD",
		"u.v.vec": "Buf", "u.v.nr": "Nbytes", "u.v.offset": "Offset", "u.poll.events": "Buf",
	}, g)
	checkFields(t, "linux/aio_abi.h struct iocb", kiocb, map[string]string{
		"aio_data": "Data", "aio_key": "Key", "aio_rw_flags": "RWFlags", "aio_lio_opcode": "Opcode",
		"aio_reqprio": "ReqPrio", "aio_fildes": "Fildes", "aio_buf": "Buf", "aio_nbytes": "Nbytes",
		"aio_offset": "Offset", "aio_reserved2": "Pad3", "aio_flags": "Flags", "aio_resfd": "ResFD",
	}, g)
	// Every Go field is covered by some C field.
	covered := map[uintptr]bool{}
	for _, f := range kiocb {
		covered[f.Off] = true
	}
	for _, f := range g {
		if !covered[f.Off] {
			t.Errorf("Go field %s at %d matches no C field", f.Name, f.Off)
		}
	}
	var cb Iocb
	cb.PrepPoll(3, 0x41)
	if got := *(*int32)(unsafe.Add(unsafe.Pointer(&cb), iocb[len(iocb)-1].Off)); got != 0x41 {
		t.Errorf("u.poll.events read back %#x", got)
	}
}

func TestEventLayout(t *testing.T) {
	_, event, _, sizes, _, _ := cLayouts()
	if uintptr(SizeofEvent) != sizes[1] || uintptr(SizeofEvent) != sizes[3] {
		t.Fatalf("sizeof: Go %d, libaio.h %d, linux/aio_abi.h %d", SizeofEvent, sizes[1], sizes[3])
	}
	checkFields(t, "struct io_event", event, map[string]string{
		"data": "Data", "obj": "Obj", "res": "Res", "res2": "Res2",
	}, goFields(Event{}))
}

func TestFlagValues(t *testing.T) {
	_, _, _, _, resfd, ioprio := cLayouts()
	if FlagResFD != resfd || FlagIOPrio != ioprio {
		t.Fatalf("FlagResFD %d FlagIOPrio %d; linux/aio_abi.h says %d and %d", FlagResFD, FlagIOPrio, resfd, ioprio)
	}
}
