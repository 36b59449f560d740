package uring

import (
	"bufio"
	"bytes"
	"go/ast"
	"go/constant"
	"go/parser"
	"go/token"
	"go/types"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// rawIncludeDir returns liburing's include directory (pkg-config, else
// /usr/include).
func rawIncludeDir(t testing.TB) string {
	t.Helper()
	if out, err := exec.Command("pkg-config", "--variable=includedir", "liburing").Output(); err == nil {
		if d := strings.TrimSpace(string(out)); d != "" {
			return d
		}
	}
	return "/usr/include"
}

func rawHeaderPath(t testing.TB) string { return filepath.Join(rawIncludeDir(t), "liburing.h") }

var rawCComment = regexp.MustCompile(`(?s)/\*.*?\*/`)

// rawHeaderFuncs extracts every public function, inline helper,
// function-like macro and LIBURING_* macro of liburing.h.
func rawHeaderFuncs(t *testing.T) []string {
	src, err := os.ReadFile(rawHeaderPath(t))
	if err != nil {
		t.Fatal(err)
	}
	s := rawCComment.ReplaceAllString(string(src), "")
	var names []string
	decl := regexp.MustCompile(`(?m)^(?:static inline\s+)?(?:[\w ]+?[\s*]+)?\**(_{0,2}io_uring_\w+)\s*\(`)
	for _, m := range decl.FindAllStringSubmatch(s, -1) {
		names = append(names, m[1])
	}
	macro := regexp.MustCompile(`(?m)^#define\s+(_{0,2}io_uring_\w+\(|LIBURING_\w+)`)
	for _, m := range macro.FindAllStringSubmatch(s, -1) {
		names = append(names, strings.TrimSuffix(m[1], "("))
	}
	return rawUniq(names)
}

// rawHeaderConsts extracts the IORING_/IOSQE_/IO_URING_/IO_WQ_/SPLICE_F_
// #defines and enum members of liburing/io_uring.h.
func rawHeaderConsts(t *testing.T) []string {
	src, err := os.ReadFile(filepath.Join(rawIncludeDir(t), "liburing", "io_uring.h"))
	if err != nil {
		t.Fatal(err)
	}
	s := rawCComment.ReplaceAllString(string(src), "")
	const pfx = `(?:IORING_|IOSQE_|IO_URING_|IO_WQ_|SPLICE_F_)\w+`
	var names []string
	for _, m := range regexp.MustCompile(`(?m)^#define\s+(`+pfx+`)\s+\S`).FindAllStringSubmatch(s, -1) {
		names = append(names, m[1])
	}
	for _, body := range regexp.MustCompile(`(?s)enum\s*\w*\s*\{(.*?)\}`).FindAllStringSubmatch(s, -1) {
		for _, item := range strings.Split(body[1], ",") {
			n := strings.TrimSpace(strings.SplitN(item, "=", 2)[0])
			if regexp.MustCompile(`^` + pfx + `$`).MatchString(n) {
				names = append(names, n)
			}
		}
	}
	return rawUniq(names)
}

func rawUniq(in []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, n := range in {
		if !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	return out
}

// rawSymbolDoc parses docs/symbols/liburing.md into the mapped (C -> Go)
// and left-out (C -> reason) tables.
func rawSymbolDoc(t *testing.T) (mapped, left map[string]string) {
	f, err := os.Open(filepath.Join("..", "docs", "symbols", "liburing.md"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	mapped, left = map[string]string{}, map[string]string{}
	row := regexp.MustCompile("^\\| `([^`]+)` \\| (.+) \\|$")
	section := ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "## "):
			section = strings.TrimPrefix(line, "## ")
			continue
		}
		m := row.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		switch section {
		case "Mapped":
			if _, dup := mapped[m[1]]; dup {
				t.Errorf("%s mapped twice", m[1])
			}
			mapped[m[1]] = strings.Trim(m[2], "`")
		case "Left out":
			if strings.TrimSpace(m[2]) == "" {
				t.Errorf("%s left out without a reason", m[1])
			}
			left[m[1]] = m[2]
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return mapped, left
}

// rawGoNames parses the package's non-test Go files and returns the
// declared names: "Func", "Const", "Type", "Var" and "(*Type).Method".
func rawGoNames(t *testing.T) (map[string]bool, *ast.File) {
	fset := token.NewFileSet()
	pkgs, err := parser.ParseDir(fset, ".", func(fi os.FileInfo) bool {
		return !strings.HasSuffix(fi.Name(), "_test.go")
	}, 0)
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	var consts *ast.File
	for _, f := range pkgs["uring"].Files {
		if fset.Position(f.Pos()).Filename == "consts.go" {
			consts = f
		}
		for _, d := range f.Decls {
			switch d := d.(type) {
			case *ast.FuncDecl:
				if d.Recv == nil {
					names[d.Name.Name] = true
					continue
				}
				rt := d.Recv.List[0].Type
				if st, ok := rt.(*ast.StarExpr); ok {
					rt = st.X
				}
				if id, ok := rt.(*ast.Ident); ok {
					names["(*"+id.Name+")."+d.Name.Name] = true
				}
			case *ast.GenDecl:
				for _, sp := range d.Specs {
					switch sp := sp.(type) {
					case *ast.ValueSpec:
						for _, n := range sp.Names {
							names[n.Name] = true
						}
					case *ast.TypeSpec:
						names[sp.Name.Name] = true
					}
				}
			}
		}
	}
	if consts == nil {
		t.Fatal("consts.go not found")
	}
	return names, consts
}

// rawCConstValues compiles a C program that prints every constant.
func rawCConstValues(t *testing.T, names []string) map[string]string {
	dir := t.TempDir()
	var b bytes.Buffer
	b.WriteString("#include <liburing.h>\n#include <stdio.h>\nint main(void) {\n")
	for _, n := range names {
		// Print as a 64-bit two's complement pattern so that negative and
		// unsigned values compare exactly.
		b.WriteString("\tprintf(\"%s %llu\\n\", \"" + n + "\", (unsigned long long)(long long)(" + n + "));\n")
	}
	b.WriteString("\treturn 0;\n}\n")
	src := filepath.Join(dir, "consts.c")
	if err := os.WriteFile(src, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "consts")
	cc := os.Getenv("CC")
	if cc == "" {
		cc = "cc"
	}
	if out, err := exec.Command(cc, "-I", rawIncludeDir(t), "-o", bin, src).CombinedOutput(); err != nil {
		t.Fatalf("compiling constant dump: %v\n%s", err, out)
	}
	out, err := exec.Command(bin).Output()
	if err != nil {
		t.Fatal(err)
	}
	vals := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		vals[f[0]] = f[1]
	}
	return vals
}

// TestSymbolMap checks docs/symbols/liburing.md against the installed
// headers and the package source.
func TestSymbolMap(t *testing.T) {
	funcs := rawHeaderFuncs(t)
	consts := rawHeaderConsts(t)
	if len(funcs) < 150 || len(consts) < 150 {
		t.Fatalf("header parse found %d functions and %d constants: parser broken?", len(funcs), len(consts))
	}
	mapped, left := rawSymbolDoc(t)
	goNames, constFile := rawGoNames(t)

	var unlisted []string
	for _, n := range append(append([]string(nil), funcs...), consts...) {
		_, m := mapped[n]
		_, l := left[n]
		if !m && !l {
			unlisted = append(unlisted, n)
		}
		if m && l {
			t.Errorf("%s is both mapped and left out", n)
		}
	}
	sort.Strings(unlisted)
	for _, n := range unlisted {
		t.Errorf("header symbol %s is neither mapped nor left out in docs/symbols/liburing.md", n)
	}
	inHeader := map[string]bool{}
	for _, n := range append(append([]string(nil), funcs...), consts...) {
		inHeader[n] = true
	}
	for c, g := range mapped {
		if !goNames[g] {
			t.Errorf("%s maps to %s, which package uring does not declare", c, g)
		}
		if !inHeader[c] {
			t.Errorf("%s is mapped but not in the installed header", c)
		}
	}
	for c := range left {
		if !inHeader[c] {
			t.Errorf("%s is left out but not in the installed header", c)
		}
	}

	// Values: type-check consts.go alone (it only holds literals) and
	// compare every mapped constant with the C compiler's value.
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "consts.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	_ = constFile
	pkg, err := (&types.Config{}).Check("uring", fset, []*ast.File{f}, nil)
	if err != nil {
		t.Fatal(err)
	}
	cvals := rawCConstValues(t, consts)
	for _, c := range consts {
		g, ok := mapped[c]
		if !ok {
			continue
		}
		obj, ok := pkg.Scope().Lookup(g).(*types.Const)
		if !ok {
			t.Errorf("%s maps to %s, which is not a constant in consts.go", c, g)
			continue
		}
		v := obj.Val()
		var got uint64
		if iv, exact := constant.Int64Val(v); exact {
			got = uint64(iv)
		} else if uv, exact := constant.Uint64Val(v); exact {
			got = uv
		} else {
			t.Errorf("%s = %v does not fit 64 bits", g, v)
			continue
		}
		want, err := strconv.ParseUint(cvals[c], 10, 64)
		if err != nil {
			t.Fatalf("C value of %s: %v", c, err)
		}
		if got != want {
			t.Errorf("%s = %d, C %s = %d", g, got, c, want)
		}
	}
}
