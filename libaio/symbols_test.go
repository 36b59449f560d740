package libaio

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
)

var (
	reBlockComment = regexp.MustCompile(`(?s)/\*.*?\*/`)
	reLineComment  = regexp.MustCompile(`//[^\n]*`)
	reFunc         = regexp.MustCompile(`(?m)^\s*(?:extern|static\s+inline)\b[^;{(]*?\b(\w+)\s*\(`)
	reFuncPtrType  = regexp.MustCompile(`typedef[^;]*?\(\s*\*\s*(\w+)\s*\)\s*\(`)
	reEnum         = regexp.MustCompile(`(?s)typedef\s+enum\s+(\w+)\s*\{(.*?)\}\s*(\w+)\s*;`)
	reEnumerator   = regexp.MustCompile(`(?m)^\s*(\w+)\s*(?:=[^,\n]*)?,?\s*$`)
	reTypedef      = regexp.MustCompile(`typedef\s+struct\s+\w+\s*\*\s*(\w+)\s*;`)
	reStruct       = regexp.MustCompile(`struct\s+(\w+)\s*\{`)
	reDefine       = regexp.MustCompile(`(?m)^\s*#\s*define\s+(\w+)`)
	reRow          = regexp.MustCompile("^\\|\\s*`([^`]+)`\\s*\\|\\s*(.*?)\\s*\\|\\s*$")
)

// headerSymbols lists the public symbols of libaio.h.
func headerSymbols(src string) []string {
	src = reBlockComment.ReplaceAllString(src, "")
	src = reLineComment.ReplaceAllString(src, "")
	set := map[string]bool{}
	for _, m := range reFunc.FindAllStringSubmatch(src, -1) {
		set[m[1]] = true
	}
	for _, m := range reFuncPtrType.FindAllStringSubmatch(src, -1) {
		set[m[1]] = true
	}
	for _, m := range reEnum.FindAllStringSubmatch(src, -1) {
		set["enum "+m[1]] = true
		set[m[3]] = true
		for _, e := range reEnumerator.FindAllStringSubmatch(m[2], -1) {
			set[e[1]] = true
		}
	}
	for _, m := range reTypedef.FindAllStringSubmatch(src, -1) {
		set[m[1]] = true
	}
	for _, m := range reStruct.FindAllStringSubmatch(src, -1) {
		set["struct "+m[1]] = true
	}
	for _, m := range reDefine.FindAllStringSubmatch(src, -1) {
		set[m[1]] = true
	}
	var out []string
	for s := range set {
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}

// symbolMap reads docs/symbols/libaio.md: C symbol -> Go name, and left-out symbols.
func symbolMap(t *testing.T) (mapped map[string]string, leftOut map[string]string) {
	b, err := os.ReadFile(filepath.Join("..", "docs", "symbols", "libaio.md"))
	if err != nil {
		t.Fatal(err)
	}
	mapped, leftOut = map[string]string{}, map[string]string{}
	section := ""
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "## ") {
			section = strings.TrimPrefix(line, "## ")
			continue
		}
		m := reRow.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		switch section {
		case "Mapped":
			mapped[m[1]] = strings.Trim(m[2], "`")
		case "Left out":
			if strings.TrimSpace(m[2]) == "" {
				t.Errorf("left-out symbol %s has no reason", m[1])
			}
			leftOut[m[1]] = m[2]
		}
	}
	return mapped, leftOut
}

// goNames lists the package's declared names: Func, Const, Type, Type.Field, (*Type).Method.
func goNames(t *testing.T) map[string]bool {
	fset := token.NewFileSet()
	names := map[string]bool{}
	files, _ := filepath.Glob("*.go")
	for _, fn := range files {
		if strings.HasSuffix(fn, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, fn, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range f.Decls {
			switch d := d.(type) {
			case *ast.FuncDecl:
				if d.Recv == nil {
					names[d.Name.Name] = true
					continue
				}
				recv := d.Recv.List[0].Type
				if st, ok := recv.(*ast.StarExpr); ok {
					names["(*"+st.X.(*ast.Ident).Name+")."+d.Name.Name] = true
				} else {
					names[recv.(*ast.Ident).Name+"."+d.Name.Name] = true
				}
			case *ast.GenDecl:
				for _, s := range d.Specs {
					switch s := s.(type) {
					case *ast.TypeSpec:
						names[s.Name.Name] = true
						if st, ok := s.Type.(*ast.StructType); ok {
							for _, fld := range st.Fields.List {
								for _, n := range fld.Names {
									names[s.Name.Name+"."+n.Name] = true
								}
							}
						}
					case *ast.ValueSpec:
						for _, n := range s.Names {
							names[n.Name] = true
						}
					}
				}
			}
		}
	}
	return names
}

func TestSymbolMap(t *testing.T) {
	src, err := os.ReadFile("/usr/include/libaio.h")
	if err != nil {
		t.Fatalf("libaio.h is part of the build: %v", err)
	}
	syms := headerSymbols(string(src))
	if len(syms) < 40 {
		t.Fatalf("parsed only %d symbols from libaio.h: %v", len(syms), syms)
	}
	for _, must := range []string{"io_submit", "io_prep_pwritev2", "io_callback_t", "io_context_t", "struct iocb", "IO_CMD_PWRITEV", "PADDEDul"} {
		if i := sort.SearchStrings(syms, must); i == len(syms) || syms[i] != must {
			t.Errorf("header parser missed %s", must)
		}
	}
	for _, gone := range []string{"io_queue_grow", "io_queue_wait", "timespec"} {
		for _, s := range syms {
			if strings.HasSuffix(s, gone) {
				t.Errorf("header parser found %s (commented out or only declared)", s)
			}
		}
	}
	mapped, leftOut := symbolMap(t)
	for _, s := range syms {
		_, m := mapped[s]
		_, l := leftOut[s]
		switch {
		case !m && !l:
			t.Errorf("libaio.h symbol %s is neither mapped nor left out in docs/symbols/libaio.md", s)
		case m && l:
			t.Errorf("%s is both mapped and left out", s)
		}
	}
	names := goNames(t)
	for c, g := range mapped {
		if !names[g] {
			t.Errorf("docs/symbols/libaio.md maps %s to %s, which the package does not declare", c, g)
		}
	}
	t.Logf("%d header symbols, %d mapped, %d left out", len(syms), len(mapped), len(leftOut))
}
