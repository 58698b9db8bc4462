/* SPDX-License-Identifier: MIT */
#define _POSIX_C_SOURCE 200809L

/* cmocka needs these first; its own block keeps include sorting away. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "death.h"

void vt_expect_death(void (*die)(int how), int how, const char *msg)
{
    int fds[2], status;
    pid_t pid;
    char buf[8192];
    size_t len = 0;
    ssize_t r;

    assert_int_equal(pipe(fds), 0);
    fflush(NULL);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(fds[0]);
        dup2(fds[1], STDERR_FILENO);
        die(how);
        _exit(0); /* survived: the parent fails the test */
    }
    close(fds[1]);
    while ((r = read(fds[0], buf + len, sizeof(buf) - 1 - len)) > 0)
        len += (size_t)r;
    buf[len] = '\0';
    close(fds[0]);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGABRT)
        fail_msg("child did not abort (status %#x), stderr: %s", status, buf);
    if (strstr(buf, msg) == NULL)
        fail_msg("expected \"%s\" on stderr, got: %s", msg, buf);
}
