package cms

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"strings"
	"testing"
)

func TestCheckRecipient(t *testing.T) {
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ec, err := newTestIdentity(ecKey, "ec client", 3001)
	if err != nil {
		t.Fatal(err)
	}
	aes := Algorithm{Cipher: AES256CBC}
	if err := CheckRecipient(clientID().cert, aes); err != nil {
		t.Errorf("ok/RSA-2048: %v; want nil", err)
	}
	if _, err := Encrypt([]byte("x"), clientID().cert, aes, nil); err != nil {
		t.Errorf("ok/RSA-2048: Encrypt fails (%v) where CheckRecipient passes", err)
	}
	err = CheckRecipient(ec.cert, aes)
	var rke *RecipientKeyError
	if !errors.As(err, &rke) || !strings.Contains(rke.Reason, "ECDSA") {
		t.Errorf("fail/ECDSA: %v; want a RecipientKeyError naming ECDSA", err)
	}
	if _, err := Encrypt([]byte("x"), ec.cert, aes, nil); !errors.As(err, &rke) {
		t.Errorf("fail/ECDSA: Encrypt = %v; want the same RecipientKeyError", err)
	}
	if err := CheckRecipient(nil, aes); err == nil {
		t.Error("fail/no certificate: nil; want an error")
	}
}
