package main

import (
	"fmt"
	"runtime"
	"runtime/debug"

	cmtversion "github.com/cometbft/cometbft/version"
	"github.com/spf13/cobra"

	"github.com/sealnet/sealnet/api"
)

// versionInfo is what 'sealnet version' reports.
type versionInfo struct {
	Version  string `json:"version"`
	Commit   string `json:"commit"` // the build's VCS revision, "-dirty" if modified; "unknown" without VCS information
	Go       string `json:"go"`
	CometBFT string `json:"cometbft"`
}

func buildVersion() versionInfo {
	var settings []debug.BuildSetting
	if bi, ok := debug.ReadBuildInfo(); ok {
		settings = bi.Settings
	}
	return versionFrom(settings)
}

// versionFrom reads the commit from a build's VCS settings (go build
// stamps them when it builds inside a repository and -buildvcs allows).
func versionFrom(settings []debug.BuildSetting) versionInfo {
	v := versionInfo{Version: api.Version, Commit: "unknown", Go: runtime.Version(), CometBFT: cmtversion.TMCoreSemVer}
	modified := false
	for _, s := range settings {
		switch s.Key {
		case "vcs.revision":
			v.Commit = s.Value
		case "vcs.modified":
			modified = s.Value == "true"
		}
	}
	if modified && v.Commit != "unknown" {
		v.Commit += "-dirty"
	}
	return v
}

func versionCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Show sealnet's version, commit, Go and CometBFT versions",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			v := buildVersion()
			if g.json {
				return printJSON(v)
			}
			fmt.Printf("sealnet %s\ncommit %s\n%s\nCometBFT %s\n", v.Version, v.Commit, v.Go, v.CometBFT)
			return nil
		},
	}
}
