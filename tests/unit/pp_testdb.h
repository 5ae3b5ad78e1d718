/*  pp_testdb - a fresh PostgreSQL schema with the project's migrations, for unit tests  */
/*  Copyright (c) the pingpost authors. Licensed under the Apache License 2.0.  */

#ifndef PP_TESTDB_H_INCLUDED
#define PP_TESTDB_H_INCLUDED

//  Create schema "t_<prefix>_<pid>_<random>" in PINGPOST_TEST_DATABASE_URL
//  and run deploy/sql/*.sql in it (under the migrate advisory lock).
//  Returns a new conninfo whose search_path is that schema, or NULL (printed)
//  when the variable is unset or the database refuses.
char *
    pp_testdb_create (const char *prefix);
//  Drop the schema made by pp_testdb_create and free its conninfo. Safe on NULL.
void
    pp_testdb_drop (char **conninfo_p);
//  The schema name of a conninfo made by pp_testdb_create (freed by caller),
//  for tests that make further schemas beside it; NULL if it names none.
char *
    pp_testdb_schema (const char *conninfo);

#endif
