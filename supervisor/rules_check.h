/* rules_check — the JSONata expressions of a model's rules compiled before anything starts.
 *
 * The supervisor has no JavaScript engine: it runs `<dir of mqgate>/mqgate-rules --check`
 * (rules/main.c gives the protocol), hands it every transform and filter expression and every
 * setContextVars variable, and prints each one that does not compile with the place of the
 * expression in its file (the rule's `where`) and jsonata's code, position and message.
 */
#ifndef SUPERVISOR_RULES_CHECK_H
#define SUPERVISOR_RULES_CHECK_H

#include <stdio.h>

#include "mqg_model.h"

/* 0 when no route has rules or every expression compiles; otherwise MQG_EXIT_CONFIG (78) after
 * printing to errf one line per failure:
 *   FILE:LINE:COL: <route>: <rule>: JSONata <code> at line L column C of the expression
 *   (position P): <message>
 * or why the expressions could not be checked (mqgate-rules missing: built without
 * MQG_RULES; the engine could not start). */
int rules_check_model(const struct mqg_model *m, FILE *errf);

#endif
