package bench

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"time"
)

// Conn is one keep-alive HTTP/1.1 connection that sends pre-built requests and reads whole responses.
// It is deliberately leaner than net/http's client (no per-request goroutines, header maps or
// allocations for the body), so that on a core of its own the generator outpaces the server and the
// figures describe the server, not the client.
type Conn struct {
	nc   net.Conn
	br   *bufio.Reader
	body []byte
}

// maxBody bounds a response body the generator accepts; larger is a wrong answer.
const maxBody = 16 << 20

// Dial opens a connection to addr (host:port) over TCP.
func Dial(ctx context.Context, addr string) (*Conn, error) {
	var d net.Dialer
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	return &Conn{nc: nc, br: bufio.NewReaderSize(nc, 16<<10)}, nil
}

// SetDeadline bounds every read and write from now on, so that a hung server cannot hang the run.
func (c *Conn) SetDeadline(t time.Time) error { return c.nc.SetDeadline(t) }

// Close closes the connection.
func (c *Conn) Close() error { return c.nc.Close() }

// Response is what a server answered. Body is only valid until the connection's next Do.
type Response struct {
	Status int
	Body   []byte
	Close  bool // the server will close the connection: dial again before the next request
}

// Do writes req (a complete HTTP/1.1 request) and reads the response.
func (c *Conn) Do(req []byte) (Response, error) {
	if _, err := c.nc.Write(req); err != nil {
		return Response{}, err
	}
	resp, err := ReadResponse(c.br, c.body[:0])
	c.body = resp.Body
	return resp, err
}

var errMalformed = errors.New("malformed HTTP response")

// ReadResponse reads one HTTP/1.x response from br, appending its body to buf. It understands what Go's
// server sends: Content-Length, chunked transfer coding, bodiless statuses, and a body delimited by the
// end of the connection.
func ReadResponse(br *bufio.Reader, buf []byte) (Response, error) {
	line, err := br.ReadSlice('\n')
	if err != nil {
		return Response{Body: buf}, err
	}
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) || line[8] != ' ' {
		return Response{Body: buf}, errMalformed
	}
	status, err := strconv.Atoi(string(line[9:12]))
	if err != nil || status < 100 {
		return Response{Body: buf}, errMalformed
	}
	resp := Response{Status: status, Body: buf, Close: line[7] == '0'}
	length, chunked := int64(-1), false
	for {
		line, err := br.ReadSlice('\n')
		if err != nil {
			return resp, err
		}
		line = bytes.TrimRight(line, "\r\n")
		if len(line) == 0 {
			break
		}
		name, value, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			return resp, errMalformed
		}
		value = bytes.TrimSpace(value)
		switch {
		case bytes.EqualFold(name, []byte("Content-Length")):
			if length, err = strconv.ParseInt(string(value), 10, 64); err != nil || length < 0 || length > maxBody {
				return resp, errMalformed
			}
		case bytes.EqualFold(name, []byte("Transfer-Encoding")):
			chunked = bytes.EqualFold(value, []byte("chunked"))
		case bytes.EqualFold(name, []byte("Connection")):
			resp.Close = resp.Close || bytes.EqualFold(value, []byte("close"))
		}
	}
	switch {
	case status < 200 || status == 204 || status == 304:
		return resp, nil
	case chunked:
		resp.Body, err = readChunked(br, buf)
	case length >= 0:
		resp.Body, err = readN(br, buf, int(length))
	default:
		resp.Close = true
		resp.Body, err = readAll(br, buf)
	}
	return resp, err
}

func readN(r io.Reader, buf []byte, n int) ([]byte, error) {
	start := len(buf)
	buf = append(buf, make([]byte, n)...)[:start+n]
	_, err := io.ReadFull(r, buf[start:])
	return buf, err
}

func readAll(r io.Reader, buf []byte) ([]byte, error) {
	for {
		if len(buf) > maxBody {
			return buf, errMalformed
		}
		if cap(buf)-len(buf) < 4096 {
			buf = append(buf, make([]byte, 4096)...)[:len(buf)]
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if errors.Is(err, io.EOF) {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
}

func readChunked(br *bufio.Reader, buf []byte) ([]byte, error) {
	for {
		line, err := br.ReadSlice('\n')
		if err != nil {
			return buf, err
		}
		size, _, _ := bytes.Cut(bytes.TrimRight(line, "\r\n"), []byte(";"))
		n, err := strconv.ParseInt(string(bytes.TrimSpace(size)), 16, 64)
		if err != nil || n < 0 || int64(len(buf))+n > maxBody {
			return buf, errMalformed
		}
		if n == 0 {
			for { // trailers, up to the blank line
				line, err := br.ReadSlice('\n')
				if err != nil {
					return buf, err
				}
				if len(bytes.TrimRight(line, "\r\n")) == 0 {
					return buf, nil
				}
			}
		}
		if buf, err = readN(br, buf, int(n)); err != nil {
			return buf, err
		}
		crlf, err := br.ReadSlice('\n')
		if err != nil {
			return buf, err
		}
		if len(bytes.TrimRight(crlf, "\r\n")) != 0 {
			return buf, fmt.Errorf("%w: chunk longer than its size", errMalformed)
		}
	}
}
