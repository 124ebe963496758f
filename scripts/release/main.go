// Command release cross-compiles peerchat for every supported platform and
// packs each build with its documentation into a reproducible archive:
// the same commit gives byte-identical archives on any machine, because
// builds are -trimpath with an empty build id, and archive entries have
// fixed names, order, modes, owners and times (those of the commit).
//
// Usage: go run ./scripts/release [-out dist] [-version V] [-time UNIX]
package main

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// targets are the platforms peerchat is released for.
var targets = []struct{ goos, goarch string }{
	{"linux", "amd64"}, {"linux", "arm64"},
	{"darwin", "amd64"}, {"darwin", "arm64"},
	{"windows", "amd64"}, {"windows", "arm64"},
}

// docs go into every archive beside the binary.
var docs = []string{"README.md", "certs/README.md", "docs/PROTOCOL.md", "scripts/gen-certs.sh"}

func main() {
	out := flag.String("out", "dist", "output `directory`")
	version := flag.String("version", "", "version to stamp (default: git describe)")
	stamp := flag.Int64("time", 0, "archive entry time, unix seconds (default: the commit's time)")
	flag.Parse()
	if err := release(*out, *version, *stamp); err != nil {
		fmt.Fprintln(os.Stderr, "release:", err)
		os.Exit(1)
	}
}

func release(out, version string, stamp int64) error {
	if version == "" {
		version = gitOr("dev", "describe", "--tags", "--always", "--dirty")
	}
	if stamp == 0 {
		s := gitOr("0", "log", "-1", "--format=%ct")
		stamp, _ = strconv.ParseInt(s, 10, 64)
	}
	mtime := time.Unix(stamp, 0).UTC()
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	var sums []string
	for _, t := range targets {
		name := fmt.Sprintf("peerchat-%s-%s-%s", version, t.goos, t.goarch)
		bin, err := build(t.goos, t.goarch, version)
		if err != nil {
			return fmt.Errorf("%s/%s: %w", t.goos, t.goarch, err)
		}
		exe := "peerchat"
		if t.goos == "windows" {
			exe += ".exe"
		}
		files := []file{{name + "/" + exe, bin, 0o755}}
		for _, d := range docs {
			b, err := os.ReadFile(d)
			if err != nil {
				return err
			}
			mode := int64(0o644)
			if strings.HasSuffix(d, ".sh") {
				mode = 0o755
			}
			files = append(files, file{name + "/" + d, b, mode})
		}
		sort.Slice(files, func(i, j int) bool { return files[i].name < files[j].name })
		var archive []byte
		if t.goos == "windows" {
			archive, err = zipFiles(files, mtime)
			name += ".zip"
		} else {
			archive, err = tarGzFiles(files, mtime)
			name += ".tar.gz"
		}
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(out, name), archive, 0o644); err != nil {
			return err
		}
		sums = append(sums, fmt.Sprintf("%x  %s\n", sha256.Sum256(archive), name))
		fmt.Fprintf(os.Stderr, "release: %s/%s\n", out, name)
	}
	return os.WriteFile(filepath.Join(out, "SHA256SUMS"), []byte(strings.Join(sums, "")), 0o644)
}

type file struct {
	name string
	data []byte
	mode int64
}

func build(goos, goarch, version string) ([]byte, error) {
	tmp, err := os.CreateTemp("", "peerchat-release-*")
	if err != nil {
		return nil, err
	}
	tmp.Close()
	defer os.Remove(tmp.Name())
	cmd := exec.Command("go", "build", "-trimpath", "-buildvcs=false",
		"-ldflags", "-s -w -buildid= -X main.Version="+version,
		"-o", tmp.Name(), "./cmd/peerchat")
	cmd.Env = append(os.Environ(), "GOOS="+goos, "GOARCH="+goarch, "CGO_ENABLED=0")
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		return nil, err
	}
	return os.ReadFile(tmp.Name())
}

func tarGzFiles(files []file, mtime time.Time) ([]byte, error) {
	var buf bytes.Buffer
	gz, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	gz.ModTime = mtime // gzip header time, fixed like the rest
	tw := tar.NewWriter(gz)
	for _, f := range files {
		hdr := &tar.Header{Name: f.name, Mode: f.mode, Size: int64(len(f.data)), ModTime: mtime,
			Typeflag: tar.TypeReg, Format: tar.FormatPAX, Uname: "root", Gname: "root"}
		if err := tw.WriteHeader(hdr); err != nil {
			return nil, err
		}
		if _, err := tw.Write(f.data); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	if err := gz.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func zipFiles(files []file, mtime time.Time) ([]byte, error) {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, f := range files {
		hdr := &zip.FileHeader{Name: f.name, Method: zip.Deflate, Modified: mtime}
		hdr.SetMode(os.FileMode(f.mode))
		w, err := zw.CreateHeader(hdr)
		if err != nil {
			return nil, err
		}
		if _, err := io.Copy(w, bytes.NewReader(f.data)); err != nil {
			return nil, err
		}
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func gitOr(fallback string, args ...string) string {
	out, err := exec.Command("git", args...).Output()
	if err != nil || len(bytes.TrimSpace(out)) == 0 {
		return fallback
	}
	return string(bytes.TrimSpace(out))
}
