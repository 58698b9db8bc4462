/* SPDX-License-Identifier: MIT */
/*
 * Contract violations that must abort loudly: run the violation in a
 * forked child and check how it died. Include after <cmocka.h>.
 */
#ifndef VMAR_TEST_DEATH_H
#define VMAR_TEST_DEATH_H

/* Run die(how) in a child process: it must abort (SIGABRT) with `msg`
 * somewhere on its stderr. A child that returns fails the test. */
void vt_expect_death(void (*die)(int how), int how, const char *msg);

#endif /* VMAR_TEST_DEATH_H */
