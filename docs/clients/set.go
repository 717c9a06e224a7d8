// Masking/set with Go's net/http: go run set.go M1 M2
package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"
)

func main() {
	base := os.Getenv("CALLMASK_URL")
	if base == "" {
		base = "http://127.0.0.1:8080"
	}
	body, _ := json.Marshal(map[string]any{
		"userId": os.Getenv("CALLMASK_USER"), "token": os.Getenv("CALLMASK_TOKEN"),
		"m1": os.Args[1], "m2": os.Args[2], "expiry_duration": 60,
	})
	client := http.Client{Timeout: 10 * time.Second}
	answer, err := client.Post(base+"/api/v2/Masking/set", "application/json", bytes.NewReader(body))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	defer answer.Body.Close()
	text, _ := io.ReadAll(answer.Body)
	fmt.Println(string(text))
}
