package posixaio

import (
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// headerSymbols parses aio.h: every function name (including the names the
// header redirects to), every struct, every struct member (struct.member)
// and every enum constant.
func headerSymbols(t *testing.T, src string) map[string]bool {
	t.Helper()
	src = regexp.MustCompile(`(?s)/\*.*?\*/`).ReplaceAllString(src, " ")
	src = regexp.MustCompile(`//[^\n]*`).ReplaceAllString(src, " ")
	syms := map[string]bool{}
	// Structs and their members.
	structRe := regexp.MustCompile(`(?s)struct\s+(\w+)\s*\{(.*?)\}`)
	memberRe := regexp.MustCompile(`(\w+)\s*(\[[^\]]*\])?\s*;`)
	for _, m := range structRe.FindAllStringSubmatch(src, -1) {
		syms[m[1]] = true
		body := regexp.MustCompile(`#[^\n]*`).ReplaceAllString(m[2], " ")
		for _, f := range memberRe.FindAllStringSubmatch(body, -1) {
			syms[m[1]+"."+f[1]] = true
		}
	}
	// Enum constants (each is also #defined to itself).
	for _, m := range regexp.MustCompile(`#\s*define\s+(\w+)\s+(\w+)`).FindAllStringSubmatch(src, -1) {
		switch {
		case m[1] == m[2]:
			syms[m[1]] = true
		case strings.HasPrefix(m[1], "aio_") || strings.HasPrefix(m[1], "lio_"):
			// "# define aio_read aio_read64": both are function names.
			syms[m[1]], syms[m[2]] = true, true
		}
	}
	// Functions: declarations and redirects.
	for _, m := range regexp.MustCompile(`\b((?:__)?(?:aio|lio)_\w+)\s*\(`).FindAllStringSubmatch(src, -1) {
		syms[m[1]] = true
	}
	for _, m := range regexp.MustCompile(`(?s)__REDIRECT_NTH\s*\(\s*(\w+)\s*,.*?\)\s*,\s*(\w+)\s*\)`).FindAllStringSubmatch(src, -1) {
		syms[m[1]], syms[m[2]] = true, true
	}
	return syms
}

// docTables returns the mapped symbols (with their Go names) and the
// left-out symbols of docs/symbols/aio.md.
func docTables(t *testing.T, doc string) (mapped map[string][]string, leftOut map[string]bool) {
	t.Helper()
	mapped, leftOut = map[string][]string{}, map[string]bool{}
	section := ""
	tick := regexp.MustCompile("`([^`]+)`")
	for _, line := range strings.Split(doc, "\n") {
		if strings.HasPrefix(line, "## ") {
			section = strings.TrimPrefix(line, "## ")
			continue
		}
		if !strings.HasPrefix(line, "| `") {
			continue
		}
		cells := strings.Split(line, "|")
		if len(cells) < 4 {
			t.Fatalf("bad table row %q", line)
		}
		c := tick.FindStringSubmatch(cells[1])
		if c == nil {
			t.Fatalf("no C symbol in %q", line)
		}
		switch section {
		case "Mapped":
			for _, g := range tick.FindAllStringSubmatch(cells[2], -1) {
				mapped[c[1]] = append(mapped[c[1]], g[1])
			}
			if len(mapped[c[1]]) == 0 {
				t.Errorf("mapped symbol %s has no Go name", c[1])
			}
		case "Left out":
			if strings.TrimSpace(cells[2]) == "" {
				t.Errorf("left-out symbol %s has no reason", c[1])
			}
			leftOut[c[1]] = true
		}
	}
	return mapped, leftOut
}

// goNameExists looks a Go name up in the package source.
func goNameExists(name, src string) bool {
	var re string
	switch {
	case strings.HasPrefix(name, "(*"):
		m := regexp.MustCompile(`^\(\*(\w+)\)\.(\w+)$`).FindStringSubmatch(name)
		if m == nil {
			return false
		}
		re = `func \(\w+ \*` + m[1] + `\) ` + m[2] + `\(`
	case strings.Contains(name, "."):
		p := strings.SplitN(name, ".", 2)
		body := regexp.MustCompile(`(?s)type ` + p[0] + ` struct \{(.*?)\n\}`).FindStringSubmatch(src)
		return body != nil && regexp.MustCompile(`\n\t`+p[1]+`\s`).MatchString(body[1])
	default:
		re = `(func ` + name + `\(|type ` + name + ` |\n\t` + name + `\s+=|const ` + name + `\s+=|var ` + name + `\s+=)`
	}
	return regexp.MustCompile(re).MatchString(src)
}

func TestSymbolMap(t *testing.T) {
	hdr, err := os.ReadFile("/usr/include/aio.h")
	if err != nil {
		t.Fatalf("aio.h: %v (install libc6-dev)", err)
	}
	doc, err := os.ReadFile("../docs/symbols/aio.md")
	if err != nil {
		t.Fatal(err)
	}
	var src strings.Builder
	files, _ := filepath.Glob("*.go")
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		src.Write(b)
		src.WriteString("\n")
	}
	syms := headerSymbols(t, string(hdr))
	if len(syms) < 40 {
		t.Fatalf("parsed only %d symbols from aio.h: %v", len(syms), syms)
	}
	mapped, leftOut := docTables(t, string(doc))
	var names []string
	for s := range syms {
		names = append(names, s)
	}
	sort.Strings(names)
	for _, s := range names {
		_, m := mapped[s]
		if !m && !leftOut[s] {
			t.Errorf("aio.h symbol %s is neither mapped nor left out in docs/symbols/aio.md", s)
		}
		if m && leftOut[s] {
			t.Errorf("%s is both mapped and left out", s)
		}
	}
	for c, gos := range mapped {
		if !syms[c] {
			t.Errorf("docs/symbols/aio.md maps %s, which aio.h does not declare", c)
		}
		for _, g := range gos {
			if !goNameExists(g, src.String()) {
				t.Errorf("%s maps to %s, which the package does not define", c, g)
			}
		}
	}
	for c := range leftOut {
		if !syms[c] {
			t.Errorf("docs/symbols/aio.md leaves out %s, which aio.h does not declare", c)
		}
	}
}
