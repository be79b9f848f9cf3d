/* Certificates for TLS tests, made with the openssl command in a directory of the test's:
 * a CA (NAME.key, NAME.pem) and certificates it signs for given host names. */
#ifndef VMLOC_TESTS_CERTTEST_H
#define VMLOC_TESTS_CERTTEST_H

#include <stdbool.h>

/* Is the openssl command there (the test skips, 77, without it)? */
bool certtest_have_openssl(void);

/* A self-signed CA in directory `dir`: NAME.key and NAME.pem. Fails the test when openssl
 * does not make it. */
void certtest_make_ca(const char *dir, const char *name);

/* A certificate NAME.pem with key NAME.key (mode 0600) in `dir`, signed by CA `ca` of the
 * same directory, naming the hosts `san` ("IP:127.0.0.1,DNS:localhost"). Fails the test when
 * openssl does not make it. */
void certtest_make_cert(const char *dir, const char *name, const char *ca, const char *san);

#endif
