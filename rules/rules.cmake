# rules.cmake — the rules engine's build (issue 13): jsonata fetched at build time, the
# JavaScriptCore adapter library mqg_jsengine. Included by the top-level CMakeLists.txt before
# tests/ so the tests can see MQG_RULES. See docs/rules.md.
#
# MQG_RULES defaults to ON when JavaScriptCore's development package (libjavascriptcoregtk-4.1-dev)
# and npm are found; without them the rest of mqgate builds as before. Forced ON without them,
# configuration fails with what is missing.

# The pinned jsonata release (npm view jsonata@<version> dist.integrity). To move to another
# version: change both lines, rebuild, run test_jsengine and the benchmark in bench/rules/.
set(MQG_JSONATA_VERSION "2.2.2")
set(MQG_JSONATA_INTEGRITY
    "sha512-XDFH2PuaAXv0AXJEWwElXbqADmKFGKMLMkFb+qOz0EhjQW2EIJ6pgtordLU+4u3IVERyBfqy6bi6kZKEncvRqA==")

pkg_check_modules(JSC IMPORTED_TARGET javascriptcoregtk-4.1)
find_program(MQG_NPM npm)
find_program(MQG_OPENSSL openssl)

# JavaScriptCore exports the execution time limit and the synchronous collection, but declares
# them only in WebKit's private headers: check that this build of the library has them.
set(MQG_JSC_PRIVATE_OK FALSE)
if(JSC_FOUND)
  include(CheckCSourceCompiles)
  set(CMAKE_REQUIRED_INCLUDES ${JSC_INCLUDE_DIRS})
  set(CMAKE_REQUIRED_LIBRARIES ${JSC_LINK_LIBRARIES})
  check_c_source_compiles([[
    #include <JavaScriptCore/JavaScript.h>
    typedef bool (*JSShouldTerminateCallback)(JSContextRef, void *);
    void JSContextGroupSetExecutionTimeLimit(JSContextGroupRef, double, JSShouldTerminateCallback,
                                             void *);
    void JSSynchronousGarbageCollectForDebugging(JSContextRef);
    int main(void)
    {
        JSContextGroupRef g = JSContextGroupCreate();
        JSContextGroupSetExecutionTimeLimit(g, 1.0, 0, 0);
        JSSynchronousGarbageCollectForDebugging(0);
        return 0;
    }]] MQG_JSC_HAS_TIME_LIMIT)
  unset(CMAKE_REQUIRED_INCLUDES)
  unset(CMAKE_REQUIRED_LIBRARIES)
  if(MQG_JSC_HAS_TIME_LIMIT)
    set(MQG_JSC_PRIVATE_OK TRUE)
  endif()
endif()

if(JSC_FOUND AND MQG_JSC_PRIVATE_OK AND MQG_NPM AND MQG_OPENSSL)
  set(MQG_RULES_DEFAULT ON)
else()
  set(MQG_RULES_DEFAULT OFF)
endif()
option(MQG_RULES "Build the rules engine (JavaScriptCore + jsonata fetched with npm)"
       ${MQG_RULES_DEFAULT})

if(NOT MQG_RULES)
  message(STATUS "rules engine: off (MQG_RULES=OFF; needs libjavascriptcoregtk-4.1-dev, npm, "
                 "openssl — scripts/deps installs them)")
  return()
endif()

if(NOT JSC_FOUND)
  message(FATAL_ERROR "MQG_RULES=ON needs JavaScriptCore: apt-get install "
                      "libjavascriptcoregtk-4.1-dev (or configure with -DMQG_RULES=OFF)")
endif()
if(NOT MQG_JSC_PRIVATE_OK)
  message(FATAL_ERROR "MQG_RULES=ON: this JavaScriptCore lacks JSContextGroupSetExecutionTimeLimit "
                      "or JSSynchronousGarbageCollectForDebugging (see CMakeFiles/CMakeError.log)")
endif()
if(NOT MQG_NPM OR NOT MQG_OPENSSL)
  message(FATAL_ERROR "MQG_RULES=ON needs npm and openssl to fetch and verify jsonata: "
                      "apt-get install npm openssl (or configure with -DMQG_RULES=OFF)")
endif()
message(STATUS "rules engine: on (JavaScriptCore ${JSC_VERSION}, jsonata ${MQG_JSONATA_VERSION})")

# jsonata.js next to the paho modules: build/lib/mqgate/, installed into <prefix>/lib/mqgate/.
# Fetched again only when the pin or the script changes.
set(MQG_JSONATA_DIR ${CMAKE_BINARY_DIR}/lib/mqgate)
set(MQG_JSONATA_JS ${MQG_JSONATA_DIR}/jsonata.js)
add_custom_command(
  OUTPUT ${MQG_JSONATA_JS} ${MQG_JSONATA_DIR}/jsonata.LICENSE
  COMMAND ${CMAKE_SOURCE_DIR}/scripts/fetch-jsonata ${MQG_JSONATA_VERSION} ${MQG_JSONATA_INTEGRITY}
          ${MQG_JSONATA_DIR}
  DEPENDS ${CMAKE_SOURCE_DIR}/scripts/fetch-jsonata ${CMAKE_SOURCE_DIR}/rules/rules.cmake
  COMMENT "Fetching jsonata ${MQG_JSONATA_VERSION} with npm (integrity checked)"
  VERBATIM)
add_custom_target(mqg_jsonata ALL DEPENDS ${MQG_JSONATA_JS})

# The adapter: the only code that includes JavaScriptCore's headers.
# (with jsclock.c: the watchdog's clock reads, see rules/jsclock.h)
add_library(mqg_jsengine STATIC ${CMAKE_SOURCE_DIR}/rules/jsengine.c
                                ${CMAKE_SOURCE_DIR}/rules/jsclock.c)
target_include_directories(mqg_jsengine PUBLIC ${CMAKE_SOURCE_DIR}/rules)
target_link_libraries(mqg_jsengine PUBLIC PkgConfig::JSC ${CMAKE_DL_LIBS})
add_dependencies(mqg_jsengine mqg_jsonata)

install(FILES ${MQG_JSONATA_JS} ${MQG_JSONATA_DIR}/jsonata.LICENSE DESTINATION lib/mqgate)

# mqgate-rules: the rules process, a connector whose "broker" is the rule engine
# (rules/rules_link.c instead of connector/mqtt_link.c: no paho), and `mqgate-rules --check`.
set(MQG_RULES_CONNECTOR_SOURCES
    ${CMAKE_SOURCE_DIR}/connector/connector.c ${CMAKE_SOURCE_DIR}/connector/conn_journal.c
    ${CMAKE_SOURCE_DIR}/connector/conn_status.c ${CMAKE_SOURCE_DIR}/connector/outbox.c
    ${CMAKE_SOURCE_DIR}/connector/queue.c ${CMAKE_SOURCE_DIR}/connector/pubcheck.c
    ${CMAKE_SOURCE_DIR}/connector/feed.c)
add_library(mqg_chain STATIC ${CMAKE_SOURCE_DIR}/rules/chain.c ${CMAKE_SOURCE_DIR}/rules/chain_build.c
                             ${CMAKE_SOURCE_DIR}/rules/chain_util.c
                             ${CMAKE_SOURCE_DIR}/rules/rules_link.c
                             ${CMAKE_SOURCE_DIR}/connector/link_evq.c)
target_include_directories(mqg_chain PUBLIC ${CMAKE_SOURCE_DIR}/rules ${CMAKE_SOURCE_DIR}/connector)
target_link_libraries(mqg_chain PUBLIC mqg_jsengine mqg_common)
add_executable(mqgate-rules ${CMAKE_SOURCE_DIR}/rules/main.c ${MQG_RULES_CONNECTOR_SOURCES})
target_include_directories(mqgate-rules PRIVATE ${CMAKE_SOURCE_DIR}/connector)
target_link_libraries(mqgate-rules PRIVATE mqg_chain mqg_jsengine mqg_common)
install(TARGETS mqgate-rules RUNTIME DESTINATION bin)
