/*
 * rmcred: mark the TGT and the fast_avail config entry of the default
 * ccache as removed, through libkrb5's own krb5_cc_remove_cred, so that
 * make.sh gets MIT's in-place removal markers.  Build: gcc rmcred.c -lkrb5
 */
#include <stdio.h>
#include <string.h>
#include <krb5.h>

static int check(krb5_context ctx, krb5_error_code ret, const char *what)
{
    if (ret) {
        const char *msg = krb5_get_error_message(ctx, ret);
        fprintf(stderr, "rmcred: %s: %s\n", what, msg);
        krb5_free_error_message(ctx, msg);
        return 1;
    }
    return 0;
}

int main(void)
{
    krb5_context ctx;
    krb5_ccache cc;
    krb5_principal me, tgs;
    krb5_creds match;

    if (krb5_init_context(&ctx))
        return 1;
    if (check(ctx, krb5_cc_default(ctx, &cc), "open cache") ||
        check(ctx, krb5_cc_get_principal(ctx, cc, &me), "principal"))
        return 1;
    if (check(ctx, krb5_build_principal(ctx, &tgs, me->realm.length,
                                        me->realm.data, "krbtgt",
                                        me->realm.data, NULL), "tgs name"))
        return 1;
    memset(&match, 0, sizeof(match));
    match.client = me;
    match.server = tgs;
    if (check(ctx, krb5_cc_remove_cred(ctx, cc, 0, &match), "remove tgt"))
        return 1;
    /* Setting a config entry to NULL removes it. */
    if (check(ctx, krb5_cc_set_config(ctx, cc, tgs, "fast_avail", NULL),
              "remove fast_avail"))
        return 1;
    krb5_free_principal(ctx, tgs);
    krb5_free_principal(ctx, me);
    krb5_cc_close(ctx, cc);
    krb5_free_context(ctx);
    return 0;
}
